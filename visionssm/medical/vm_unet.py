"""VM-UNet: a VSS (VMamba) encoder and a symmetric VSS decoder with patch expanding and additive skips.

Paper: "VM-UNet: Vision Mamba UNet for Medical Image Segmentation", Ruan & Xiang, 2024 (arXiv:2402.02491).
Original code: https://github.com/JCruan519/VM-UNet (Apache-2.0). Re-written on visionssm layers: the encoder
blocks are ``visionssm.models.vmamba.VSSBlock`` (SS2D with any registered scan, VMamba-v0 settings by default),
so a scan swap is one argument. The layout follows the original exactly:

- encoder: conv 4×4/4 + LN stem; stage i = [PatchMerging (i > 0)] + blocks; the skip of stage i is taken after
  its downsample and before its blocks (the original appends each layer's *input*);
- decoder: stage 0 = blocks at the deepest width; stage i > 0 = PatchExpand(x + skip) (Linear 2C→4C, pixel
  shuffle ×2, LN(C)) then blocks; the stem output (the first skip) is not used, as in the original;
- head: final patch expand ×4 (Linear C→4C, shuffle ×4, LN(C/4)) and a 1×1 conv to ``num_classes``.

The model returns logits (the original applies a sigmoid inside when ``num_classes == 1``; our losses take
logits for numerical stability). ``load_from`` initialises the encoder from a VMamba-v0 classification
checkpoint (official or converted) and, as the original, the decoder blocks from the mirrored encoder stages.
"""
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import torch
from torch import nn

from visionssm.convert.common import load_checkpoint_file, unwrap_state_dict
from visionssm.convert.vmamba import convert_vmamba_state_dict
from visionssm.layers.norms import nchw_to_nhwc, nhwc_to_nchw
from visionssm.models.vmamba import PatchMerging, Stem, VSSBlock
from visionssm.scans import ScanSource, ScanStrategy

__all__ = ["VMUNet", "VSSEncoder", "VSSDecoder", "PatchExpand", "vss_block_factory"]

BlockFactory = Callable[[int, float], nn.Module]  # (dim, drop_path) -> block on NHWC tensors


def vss_block_factory(scan: Union[str, ScanStrategy] = "cross", scan_kwargs: Optional[Dict[str, Any]] = None,
                      d_state: int = 16, ssm_ratio: float = 2.0, dt_rank: Union[int, str] = "auto", d_conv: int = 3,
                      conv_bias: bool = True, gate: str = "silu", mlp_ratio: float = 0.0, backend: str = "auto",
                      ) -> BlockFactory:
    """VMamba-v0 VSS blocks (channels-last, SS2D with z gate, no MLP) for any scan; one strategy cache per width."""
    scans = ScanSource(scan, scan_kwargs)

    def make(dim: int, drop_path: float) -> nn.Module:
        return VSSBlock(dim, channels_first=False, drop_path=drop_path, mlp_ratio=mlp_ratio,
                        scan=scans(int(ssm_ratio * dim)), d_state=d_state, ssm_ratio=ssm_ratio, dt_rank=dt_rank,
                        d_conv=d_conv, conv_bias=conv_bias, gate=gate, backend=backend)
    return make


class _Stage(nn.Module):
    """Optional resampling layer (NCHW in/out) followed by blocks run channels-last."""

    def __init__(self, resample: Optional[nn.Module], dim: int, depth: int, drop_paths: Sequence[float],
                 block_fn: BlockFactory, resample_name: str):
        super().__init__()
        self.resample_name = resample_name
        self.add_module(resample_name, resample if resample is not None else nn.Identity())
        self.blocks = nn.Sequential(*[block_fn(dim, drop_paths[j]) for j in range(depth)])

    @property
    def resample(self) -> nn.Module:
        return getattr(self, self.resample_name)

    def run_blocks(self, x: torch.Tensor) -> torch.Tensor:
        return nhwc_to_nchw(self.blocks(nchw_to_nhwc(x)))


class VSSEncoder(nn.Module):
    """Stem + stages with VMamba's key layout (``stem.*``, ``stages.i.downsample.*``, ``stages.i.blocks.j.*``),
    so the VMamba converter maps classification checkpoints onto it unchanged."""

    stem_type = "patch"
    downsample_type = "merge"

    def __init__(self, in_chans: int, dims: Sequence[int], depths: Sequence[int], drop_paths: Sequence[float],
                 block_fn: BlockFactory, patch_size: int = 4):
        super().__init__()
        self.stem = Stem(in_chans, dims[0], patch_size, "patch")
        stages = []
        for i, depth in enumerate(depths):
            down = PatchMerging(dims[i - 1], dims[i]) if i > 0 else None
            stages.append(_Stage(down, dims[i], depth, drop_paths[sum(depths[:i]):sum(depths[:i + 1])], block_fn,
                                 "downsample"))
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor):
        """Returns the deepest features and the skips (each stage's input after its downsample), all NCHW."""
        x = self.stem(x)
        skips = []
        for stage in self.stages:
            x = stage.resample(x)
            skips.append(x)
            x = stage.run_blocks(x)
        return x, skips


class PatchExpand(nn.Module):
    """Linear C_in → s²·C_out (no bias), pixel shuffle by s, LayerNorm(C_out). NCHW in and out.

    The channel split order is the original's ``rearrange('b h w (p1 p2 c) -> b (h p1) (w p2) c')``.
    """

    def __init__(self, in_dim: int, out_dim: int, scale: int = 2):
        super().__init__()
        self.scale, self.out_dim = scale, out_dim
        self.expand = nn.Linear(in_dim, scale * scale * out_dim, bias=False)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        s, c = self.scale, self.out_dim
        x = self.expand(nchw_to_nhwc(x)).view(B, H, W, s, s, c)
        x = x.permute(0, 1, 3, 2, 4, 5).reshape(B, H * s, W * s, c)
        return nhwc_to_nchw(self.norm(x))


class VSSDecoder(nn.Module):
    """Stage 0: blocks at the deepest width; stage i > 0: PatchExpand(x + skip) then blocks (``upsample`` keys)."""

    def __init__(self, dims: Sequence[int], depths: Sequence[int], drop_paths: Sequence[float],
                 block_fn: BlockFactory):
        super().__init__()
        dims_up = list(dims)[::-1]
        stages = []
        for i, depth in enumerate(depths):
            up = PatchExpand(dims_up[i - 1], dims_up[i], 2) if i > 0 else None
            stages.append(_Stage(up, dims_up[i], depth, drop_paths[sum(depths[:i]):sum(depths[:i + 1])], block_fn,
                                 "upsample"))
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor, skips: List[torch.Tensor]) -> torch.Tensor:
        for i, stage in enumerate(self.stages):
            if i > 0:
                x = stage.resample(x + skips[-i])
            x = stage.run_blocks(x)
        return x


def _linspace(rate: float, n: int) -> List[float]:
    return [rate * i / (n - 1) if n > 1 else 0.0 for i in range(n)]


class VMUNet(nn.Module):
    """VM-UNet (and, with an MHS block factory, MHS-VM).

    Args:
        in_chans: image channels (a 1-channel input is repeated to 3 when ``in_chans == 3``, as the original).
        num_classes: output channels (1 = binary logits for BCE + Dice).
        depths, depths_decoder: blocks per encoder / decoder stage (original [2,2,2,2] / [2,2,2,1]).
        dims: encoder widths (an int doubles per stage).
        drop_path_rate: stochastic depth, linear over the encoder blocks and mirrored over the decoder blocks.
        block_fn: (dim, drop_path) → block; default VSS blocks with ``scan`` and ``block_kwargs``.
        scan, scan_kwargs, **block_kwargs: forwarded to :func:`vss_block_factory` when ``block_fn`` is None.
    """

    def __init__(self, in_chans: int = 3, num_classes: int = 1, depths: Sequence[int] = (2, 2, 2, 2),
                 depths_decoder: Sequence[int] = (2, 2, 2, 1), dims: Union[int, Sequence[int]] = 96,
                 patch_size: int = 4, drop_path_rate: float = 0.2, block_fn: Optional[BlockFactory] = None,
                 scan: Union[str, ScanStrategy] = "cross", scan_kwargs: Optional[Dict[str, Any]] = None,
                 **block_kwargs):
        super().__init__()
        n = len(depths)
        if len(depths_decoder) != n:
            raise ValueError(f"depths_decoder needs one entry per encoder stage ({n}), got {list(depths_decoder)}")
        dims = [int(dims * 2 ** i) for i in range(n)] if isinstance(dims, int) else list(dims)
        if dims[0] % 4:
            raise ValueError(f"dims[0]={dims[0]} must be divisible by 4 (the final ×4 patch expand)")
        self.in_chans, self.num_classes, self.dims = in_chans, num_classes, dims
        self.patch_size = patch_size
        self.size_divisor = patch_size * 2 ** (n - 1)
        if block_fn is None:
            block_fn = vss_block_factory(scan, scan_kwargs, **block_kwargs)
        elif block_kwargs or scan_kwargs:
            raise ValueError("pass block options either through block_fn or as keyword arguments, not both")
        self.encoder = VSSEncoder(in_chans, dims, depths, _linspace(drop_path_rate, sum(depths)), block_fn, patch_size)
        self.decoder = VSSDecoder(dims, depths_decoder, _linspace(drop_path_rate, sum(depths_decoder))[::-1], block_fn)
        self.final_expand = PatchExpand(dims[0], dims[0] // 4, scale=4)
        self.head = nn.Conv2d(dims[0] // 4, num_classes, kernel_size=1)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        """As the original VSSM: Linear trunc-normal(0.02) with zero bias, LayerNorm (1, 0); convs keep torch init."""
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    @torch.jit.ignore
    def no_weight_decay(self):
        return {n for n, _ in self.named_parameters() if n.endswith((".A_logs", ".Ds", ".dt_projs_bias"))}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1 and self.in_chans == 3:
            x = x.expand(-1, 3, -1, -1)
        H, W = x.shape[-2:]
        if H % self.size_divisor or W % self.size_divisor:
            raise ValueError(f"VM-UNet input {H}x{W} must be divisible by {self.size_divisor} (patch size "
                             f"{self.patch_size} x 2^{len(self.dims) - 1} merges); resize or pad the image")
        x, skips = self.encoder(x)
        x = self.decoder(x, skips)
        return self.head(self.final_expand(x))

    # -- checkpoints ----------------------------------------------------------------------------
    def load_from(self, checkpoint: Union[str, Dict[str, torch.Tensor]], init_decoder: bool = True,
                  verbose: bool = False) -> Dict[str, Any]:
        """Initialise from a VMamba-v0 classification checkpoint (official legacy/current names, or ours).

        Like the original ``VMUNet.load_from``, every encoder tensor whose converted name and shape match is
        loaded (a deeper checkpoint such as VMamba-S fills the first blocks of each stage), then decoder stage
        ``n-1-i`` block j is initialised from encoder stage i block j when it exists (``init_decoder``).
        Returns a report: loaded encoder/decoder keys, encoder keys left at init, checkpoint keys not used.
        """
        sd = load_checkpoint_file(checkpoint) if not isinstance(checkpoint, dict) else checkpoint
        sd = convert_vmamba_state_dict(unwrap_state_dict(sd), self.encoder)
        own = self.encoder.state_dict()
        enc = {k: v for k, v in sd.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
        if not enc:
            sample = ", ".join(sorted(sd)[:5])
            raise ValueError(f"no tensor of this checkpoint fits the VM-UNet encoder (first keys: {sample}); "
                             "expected a VMamba v0 classification checkpoint (patch stem, PatchMerging) with the "
                             f"same widths {self.dims}")
        self.encoder.load_state_dict(enc, strict=False)
        dec_loaded: List[str] = []
        if init_decoder:
            n = len(self.dims)
            dec_own = self.decoder.state_dict()
            dec = {}
            for k, v in enc.items():
                if not k.startswith("stages.") or ".blocks." not in k:
                    continue
                i, rest = k[len("stages."):].split(".", 1)
                target = f"stages.{n - 1 - int(i)}.{rest}"
                if target in dec_own and tuple(dec_own[target].shape) == tuple(v.shape):
                    dec[target] = v
            self.decoder.load_state_dict(dec, strict=False)
            dec_loaded = sorted(dec)
        report = {"encoder_loaded": sorted(enc), "decoder_loaded": dec_loaded,
                      "encoder_missing": sorted(set(own) - set(enc)), "unused": sorted(set(sd) - set(enc))}
        if verbose:
            print(f"VM-UNet load_from: encoder {len(enc)}/{len(own)} tensors, decoder {len(dec_loaded)} tensors, "
                  f"{len(report['unused'])} checkpoint tensors unused")
        return report

