"""LightM-UNet: residual Vision-Mamba layers in a light U-Net, 2D and 3D.

Paper: "LightM-UNet: Mamba Assists in Lightweight UNet for Medical Image Segmentation", Liao et al., 2024
(arXiv:2403.05246). Original code: https://github.com/MrBlankness/LightM-UNet (Apache-2.0; MONAI SegResNet
skeleton inside nnU-Net v2). Re-written without MONAI; the Mamba layer is visionssm's
:class:`~visionssm.layers.mamba_block.MambaSequenceMixer` (with one direction it is exactly ``mamba_ssm.Mamba``:
in_proj, causal conv1d k=4, x_proj, dt_proj, A_log, D, out_proj).

Structure (the fixed release with depth-wise convs, ``blocks_down=(1,2,2,4)``, ``blocks_up=(1,1,1)``,
``init_filters=32``, GroupNorm(8), ReLU, non-trainable ×2 linear upsampling):

- ``RVMLayer``: tokens = flatten(x); ``y = mamba(LN(t)) + s·t`` (learnable scalar s); ``proj(LN(y))`` with the
  same LN (as the original); back to the grid. Downsampling = RVMLayer(C/2 → C) + max-pool 2.
- ``ResMambaBlock``: GN → ReLU → RVM → GN → ReLU → RVM, + identity.
- ``ResUpBlock``: GN → ReLU → DWConv(k3) + s·identity → GN → ReLU.
- stem: depth-wise 3×3 + point-wise conv (no bias); decoder step: 1×1 conv (C → C/2, no bias), upsample,
  add the skip, ResUpBlocks; head: GN → ReLU → depth-wise 1×1 + point-wise 1×1 (with bias).

Scans. The original flattens the 2D/3D grid in raster order (C-order of D, H, W) and runs one causal scan.
``scan="raster"`` reproduces that (default). ``"bidirectional"`` adds the reversed sequence (Vim-style, mean).
In 2D any registered permutation scan works (``"cross"``, ``"hilbert"``, ``"zigzag"``, ...). In 3D only the
sequence-level orders are offered: the registered 2D strategies build orders for an H×W grid, so running them
on the flattened (D·H)×W grid would silently mix slices (a "column" would cross slice boundaries, a Hilbert
curve would not be a 3D curve); ``lightm_unet`` therefore rejects them for ``spatial_dims=3``.
"""
from typing import Optional, Sequence, Union

import torch
from torch import nn

from visionssm.layers.mamba_block import MambaSequenceMixer
from visionssm.scans import ScanStrategy, get_scan

__all__ = ["LightMUNet", "RVMLayer", "ResMambaBlock", "ResUpBlock", "SCANS_3D"]

SCANS_3D = ("raster", "bidirectional")


def _check_3d_scan(scan: Union[str, ScanStrategy], spatial_dims: int) -> None:
    if spatial_dims == 3 and not (isinstance(scan, str) and scan in SCANS_3D):
        name = scan if isinstance(scan, str) else type(scan).__name__
        raise ValueError(f"3D LightM-UNet supports the sequence-level scans {SCANS_3D}, got {name!r}: 2D scan "
                         f"strategies would treat the flattened volume as a (D*H)xW image and cross slice borders")


def _conv(spatial_dims: int):
    return nn.Conv3d if spatial_dims == 3 else nn.Conv2d


def dw_conv(spatial_dims: int, in_ch: int, out_ch: int, kernel_size: int = 3, bias: bool = False) -> nn.Sequential:
    """Depth-wise k×k (groups = in_ch) then point-wise 1×1 (MONAI ``Convolution(conv_only=True)`` pair)."""
    conv = _conv(spatial_dims)
    return nn.Sequential(conv(in_ch, in_ch, kernel_size, padding=kernel_size // 2, groups=in_ch, bias=bias),
                         conv(in_ch, out_ch, 1, bias=bias))


class RVMLayer(nn.Module):
    """Residual Vision-Mamba layer on (B, C, *spatial) maps; tokens in raster order of the flattened grid."""

    def __init__(self, in_dim: int, out_dim: int, scan: Union[str, ScanStrategy] = "raster", d_state: int = 16,
                 d_conv: int = 4, expand: float = 2, backend: str = "auto"):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.norm = nn.LayerNorm(in_dim)
        self.mamba = MambaSequenceMixer(in_dim, d_state=d_state, d_conv=d_conv, expand=expand, scan=scan,
                                        backend=backend)
        self.proj = nn.Linear(in_dim, out_dim)
        self.skip_scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float16:  # the original computes this layer in float32
            x = x.float()
        B, C = x.shape[:2]
        spatial = x.shape[2:]
        tokens = x.reshape(B, C, -1).transpose(1, 2)
        rows = 1
        for s in spatial[:-1]:
            rows *= s
        y = self.mamba(self.norm(tokens), (rows, spatial[-1])) + self.skip_scale * tokens
        y = self.proj(self.norm(y))
        return y.transpose(1, 2).reshape(B, self.out_dim, *spatial)


class ResMambaBlock(nn.Module):
    def __init__(self, spatial_dims: int, channels: int, num_groups: int = 8, **rvm_kwargs):
        super().__init__()
        self.norm1 = nn.GroupNorm(num_groups, channels)
        self.norm2 = nn.GroupNorm(num_groups, channels)
        self.act = nn.ReLU()
        self.mamba1 = RVMLayer(channels, channels, **rvm_kwargs)
        self.mamba2 = RVMLayer(channels, channels, **rvm_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mamba1(self.act(self.norm1(x)))
        y = self.mamba2(self.act(self.norm2(y)))
        return y + x


class ResUpBlock(nn.Module):
    def __init__(self, spatial_dims: int, channels: int, num_groups: int = 8, kernel_size: int = 3):
        super().__init__()
        self.norm1 = nn.GroupNorm(num_groups, channels)
        self.norm2 = nn.GroupNorm(num_groups, channels)
        self.act = nn.ReLU()
        self.conv = dw_conv(spatial_dims, channels, channels, kernel_size)
        self.skip_scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(self.act(self.norm1(x))) + self.skip_scale * x
        return self.act(self.norm2(y))


class LightMUNet(nn.Module):
    """LightM-UNet for 2D (``spatial_dims=2``) or 3D (``spatial_dims=3``) inputs.

    Args:
        spatial_dims: 2 or 3. in_chans, num_classes: input channels, output logits channels.
        init_filters: width of the first stage (doubles per stage). blocks_down / blocks_up: ResMamba blocks per
            encoder stage / ResUp blocks per decoder stage (len(blocks_up) = len(blocks_down) - 1).
        num_groups: GroupNorm groups. dropout_prob: dropout after the stem (None = off, as released).
        scan: "raster" (original), "bidirectional", or (2D only) any registered permutation scan.
        d_state, d_conv, expand: Mamba options (16, 4, 2 as released). backend: selective-scan backend.
    """

    def __init__(self, spatial_dims: int = 3, in_chans: int = 1, num_classes: int = 2, init_filters: int = 32,
                 blocks_down: Sequence[int] = (1, 2, 2, 4), blocks_up: Sequence[int] = (1, 1, 1),
                 num_groups: int = 8, dropout_prob: Optional[float] = None, scan: Union[str, ScanStrategy] = "raster",
                 d_state: int = 16, d_conv: int = 4, expand: float = 2, backend: str = "auto"):
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        if len(blocks_up) != len(blocks_down) - 1:
            raise ValueError(f"blocks_up needs len(blocks_down) - 1 = {len(blocks_down) - 1} entries, got {list(blocks_up)}")
        if init_filters % num_groups:
            raise ValueError(f"init_filters={init_filters} must be divisible by num_groups={num_groups} (GroupNorm)")
        self.spatial_dims, self.in_chans, self.num_classes = spatial_dims, in_chans, num_classes
        self.size_divisor = 2 ** (len(blocks_down) - 1)
        _check_3d_scan(scan, spatial_dims)
        rvm = {"scan": get_scan(scan), "d_state": d_state, "d_conv": d_conv, "expand": expand,
                   "backend": backend}
        pool = nn.MaxPool3d if spatial_dims == 3 else nn.MaxPool2d
        self.stem = dw_conv(spatial_dims, in_chans, init_filters)
        self.dropout = nn.Dropout(dropout_prob) if dropout_prob else nn.Identity()
        down = []
        for i, n in enumerate(blocks_down):
            ch = init_filters * 2 ** i
            layers = [nn.Sequential(RVMLayer(ch // 2, ch, **rvm), pool(2, 2))] if i > 0 else []
            layers += [ResMambaBlock(spatial_dims, ch, num_groups, **rvm) for _ in range(n)]
            down.append(nn.Sequential(*layers))
        self.down_layers = nn.ModuleList(down)
        n_up = len(blocks_up)
        mode = "trilinear" if spatial_dims == 3 else "bilinear"
        self.up_samples, self.up_layers = nn.ModuleList(), nn.ModuleList()
        for i in range(n_up):
            ch = init_filters * 2 ** (n_up - i)
            self.up_samples.append(nn.Sequential(_conv(spatial_dims)(ch, ch // 2, 1, bias=False),
                                                 nn.Upsample(scale_factor=2, mode=mode, align_corners=False)))
            self.up_layers.append(nn.Sequential(*[ResUpBlock(spatial_dims, ch // 2, num_groups)
                                                  for _ in range(blocks_up[i])]))
        self.head = nn.Sequential(nn.GroupNorm(num_groups, init_filters), nn.ReLU(),
                                  dw_conv(spatial_dims, init_filters, num_classes, kernel_size=1, bias=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = x.shape[2:]
        if len(spatial) != self.spatial_dims:
            raise ValueError(f"LightM-UNet ({self.spatial_dims}D) expects (B, C, {'D, ' if self.spatial_dims == 3 else ''}"
                             f"H, W) input, got shape {tuple(x.shape)}")
        if any(s % self.size_divisor for s in spatial):
            raise ValueError(f"LightM-UNet input size {tuple(spatial)} must be divisible by {self.size_divisor}; "
                             "pad the image or use sliding-window inference with a divisible window")
        x = self.dropout(self.stem(x))
        skips = []
        for layer in self.down_layers:
            x = layer(x)
            skips.append(x)
        skips = skips[::-1]
        for i, (up, layer) in enumerate(zip(self.up_samples, self.up_layers)):
            x = layer(up(x) + skips[i + 1])
        return self.head(x)
