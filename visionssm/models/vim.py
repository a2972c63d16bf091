"""Vision Mamba (Vim): a plain, non-hierarchical stack of bidirectional Mamba blocks over patch tokens.

Paper: "Vision Mamba: Efficient Visual Representation Learning with Bidirectional State Space Model",
Zhu et al., ICML 2024, arXiv:2401.09417. Official code and weights: https://github.com/hustvl/Vim
(Apache-2.0), checkpoints on https://huggingface.co/hustvl.

The released models ("bimamba v2, middle class token, div2"): 16×16 patches (stride 16, or stride 8 for
the "+" fine-tunes), a class token inserted in the middle of the row-major token sequence *before* the
absolute position embedding is added, RMSNorm, a float32 residual stream, and a head on the final-normed
middle class token. The token order comes from the scan registry (``scan='bidirectional'``); any other
permutation strategy (``cross``, ``hilbert``, ...) can be swapped in, with its own K parameter sets.

Beyond the official code: any input size (the position embedding is resized around the middle class
token, the fix users asked for in hustvl/Vim#108 and #112), ``features_only`` token maps, and official
checkpoints load through ``checkpoint_filter_fn`` / ``visionssm.convert.from_official('vim', ...)``.
"""
import math
from functools import partial
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from timm.layers import DropPath, RmsNorm, register_notrace_function, register_notrace_module, to_2tuple, trunc_normal_
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._features import feature_take_indices
from torch import nn
from torch.utils.checkpoint import checkpoint

from visionssm.convert.common import checked_weights, unwrap_state_dict
from visionssm.convert.vim import convert_official, is_official
from visionssm.layers.mamba_block import MambaBlock, MambaSequenceMixer

from ._test_variants import TEST_CFG

__all__ = ["VisionMamba", "checkpoint_filter_fn", "resize_pos_embed"]


def _cls_index(num_patches: int) -> int:
    """Vim's token_position: the class token is inserted before patch M // 2."""
    return num_patches // 2


@register_notrace_function  # a leaf for torch.fx: it branches on the grid sizes
def resize_pos_embed(pos_embed: torch.Tensor, new_grid: Tuple[int, int], old_grid: Tuple[int, int],
                     class_token: bool = True) -> torch.Tensor:
    """Resize a (1, M + 1, C) embedding with the class token at M // 2 to a new patch grid.

    The class entry is taken out, the patch entries are resized bicubically as a 2D map
    (align_corners=False, no antialias, as Vim's fine-tuning recipe resizes them), and the class entry
    goes back at the new M' // 2. Vim's own ``interpolate_pos_embed`` assumes the class token comes
    first, which shifts every row of the midcls checkpoints (hustvl/Vim#108).
    """
    if tuple(new_grid) == tuple(old_grid):
        return pos_embed
    old_m = old_grid[0] * old_grid[1]
    if pos_embed.shape[1] != old_m + int(class_token):
        raise ValueError(f"pos_embed has {pos_embed.shape[1]} entries; a {old_grid[0]}×{old_grid[1]} grid "
                         f"{'plus a class token ' if class_token else ''}needs {old_m + int(class_token)}")
    if class_token:
        p = _cls_index(old_m)
        cls = pos_embed[:, p:p + 1]
        patches = torch.cat([pos_embed[:, :p], pos_embed[:, p + 1:]], dim=1)
    else:
        patches = pos_embed
    C = patches.shape[-1]
    grid = patches.reshape(1, old_grid[0], old_grid[1], C).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=tuple(new_grid), mode="bicubic", align_corners=False)
    patches = grid.permute(0, 2, 3, 1).reshape(1, -1, C).to(pos_embed.dtype)
    if not class_token:
        return patches
    q = _cls_index(new_grid[0] * new_grid[1])
    return torch.cat([patches[:, :q], cls, patches[:, q:]], dim=1)


@register_notrace_module  # a leaf for torch.fx: it checks the input size
class PatchEmbed(nn.Module):
    """Conv2d patchify with a stride of its own (Vim's "+" models use 16×16 patches at stride 8)."""

    def __init__(self, img_size=224, patch_size=16, stride=16, in_chans=3, embed_dim=192):
        super().__init__()
        self.img_size, self.patch_size, self.stride = to_2tuple(img_size), to_2tuple(patch_size), to_2tuple(stride)
        self.grid_size = self.grid_for(self.img_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=self.patch_size, stride=self.stride)

    def grid_for(self, size: Tuple[int, int]) -> Tuple[int, int]:
        return tuple((s - p) // st + 1 for s, p, st in zip(size, self.patch_size, self.stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        ph, pw = self.patch_size
        if ph > H or pw > W:
            raise ValueError(f"input {H}×{W} is smaller than one {ph}×{pw} patch")
        return self.proj(x)  # (B, C, gh, gw)


class VisionMamba(nn.Module):
    """Vim.

    Args:
        img_size: size the position embedding is trained for (other sizes resize it on the fly).
        patch_size, stride: patchify conv (stride defaults to patch_size).
        embed_dim, depth, d_state, expand, d_conv, dt_rank: Mamba hyper-parameters (Vim: 16, 2, 4, auto).
        scan: token order strategy (default the official 'bidirectional'); any registered permutation scan.
        class_token: insert a class token in the middle of the sequence (all released models).
        global_pool: 'token' (the middle class token, official), 'avg' (mean of patch tokens) or ''.
        norm_layer: 'rmsnorm' (official) or 'layernorm'. residual_in_fp32: keep the residual stream in fp32.
        backend: selective-scan backend ('auto', 'ref', 'torch', 'triton').
    """

    def __init__(
            self,
            img_size: Union[int, Tuple[int, int]] = 224,
            patch_size: int = 16,
            stride: Optional[int] = None,
            in_chans: int = 3,
            num_classes: int = 1000,
            global_pool: str = "token",
            embed_dim: int = 192,
            depth: int = 24,
            d_state: int = 16,
            expand: float = 2,
            d_conv: int = 4,
            dt_rank="auto",
            scan="bidirectional",
            class_token: bool = True,
            norm_layer: str = "rmsnorm",
            norm_eps: float = 1e-5,
            residual_in_fp32: bool = True,
            drop_rate: float = 0.0,
            pos_drop_rate: float = 0.0,
            drop_path_rate: float = 0.0,
            backend: str = "auto",
    ):
        super().__init__()
        if global_pool not in ("token", "avg", ""):
            raise ValueError(f"global_pool must be 'token', 'avg' or '' (got {global_pool!r})")
        if global_pool == "token" and not class_token:
            raise ValueError("global_pool='token' needs class_token=True; use global_pool='avg' without a class token")
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.has_class_token = class_token
        self.num_prefix_tokens = int(class_token)
        self.grad_checkpointing = False
        stride = stride or patch_size

        self.patch_embed = PatchEmbed(img_size, patch_size, stride, in_chans, embed_dim)
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + self.num_prefix_tokens, embed_dim))
        self.pos_drop = nn.Dropout(pos_drop_rate)

        norm_cls = {"rmsnorm": RmsNorm, "layernorm": nn.LayerNorm}[norm_layer]
        norm_cls = partial(norm_cls, eps=norm_eps)
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # linspace(0, rate, depth)
        self.blocks = nn.ModuleList([
            MambaBlock(
                embed_dim,
                MambaSequenceMixer(embed_dim, d_state=d_state, d_conv=d_conv, expand=expand, dt_rank=dt_rank,
                                   scan=scan, backend=backend),
                norm_layer=norm_cls,
                drop_path=DropPath(dpr[i]) if dpr[i] > 0 else None,
                residual_in_fp32=residual_in_fp32,
            )
            for i in range(depth)
        ])
        self.scan_name = self.blocks[0].mixer.scan.scan_name if depth else str(scan)
        self.norm = norm_cls(embed_dim)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.feature_info = [{"module": f"blocks.{i}", "num_chs": embed_dim, "reduction": stride} for i in range(depth)]
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """Vim's init: lecun-normal patchify, trunc-normal(0.02) position/class/head, zero Linear biases,
        out_proj rescaled by 1/sqrt(depth) (GPT-2); the SSM parameters keep Mamba's init."""
        trunc_normal_(self.pos_embed, std=0.02)
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=0.02)
        w = self.patch_embed.proj.weight
        trunc_normal_(w, std=math.sqrt(1.0 / (w[0].numel())) / 0.87962566103423978)
        nn.init.zeros_(self.patch_embed.proj.bias)
        if isinstance(self.head, nn.Linear):
            trunc_normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)
        for blk in self.blocks:
            for lin in (blk.mixer.in_proj, blk.mixer.out_proj):
                if lin.bias is not None:
                    nn.init.zeros_(lin.bias)
            nn.init.kaiming_uniform_(blk.mixer.out_proj.weight, a=math.sqrt(5))
            blk.mixer.out_proj.weight /= math.sqrt(max(len(self.blocks), 1))

    # -- timm API --------------------------------------------------------------------------------
    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        """Position/class embeddings and the SSM's A_log, D and dt bias (Mamba keeps them undecayed)."""
        names = {"pos_embed", "cls_token"}
        for name, _ in self.named_parameters():
            if name.endswith(("ssm.A_logs", "ssm.Ds", "ssm.dt_projs_bias")):
                names.add(name)
        return names

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> Dict[str, Any]:
        return {"stem": r"^cls_token|^pos_embed|^patch_embed", "blocks": [(r"^blocks\.(\d+)", None), (r"^norm", (99999,))]}

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        self.num_classes = num_classes
        if global_pool is not None:
            if global_pool not in ("token", "avg", ""):
                raise ValueError(f"global_pool must be 'token', 'avg' or '' (got {global_pool!r})")
            if global_pool == "token" and not self.has_class_token:
                raise ValueError("global_pool='token' needs a class token")
            self.global_pool = global_pool
        self.head = nn.Linear(self.embed_dim, num_classes) if num_classes > 0 else nn.Identity()

    # -- forward ---------------------------------------------------------------------------------
    def _embed(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int], Optional[int]]:
        """Patchify, insert the class token at M // 2, add the (resized) position embedding."""
        x = self.patch_embed(x)
        grid = (x.shape[-2], x.shape[-1])  # indexed, not iterated: torch.fx proxies cannot be iterated
        x = x.flatten(2).transpose(1, 2)
        M = x.shape[1]
        pos = None
        if self.has_class_token:
            pos = _cls_index(M)
            cls = self.cls_token.expand(x.shape[0], -1, -1).to(x.dtype)
            x = torch.cat([x[:, :pos], cls, x[:, pos:]], dim=1)
        pos_embed = resize_pos_embed(self.pos_embed, grid, self.patch_embed.grid_size, self.has_class_token)
        x = self.pos_drop(x + pos_embed)
        return x, grid, pos

    def _run_block(self, blk: nn.Module, x: torch.Tensor, grid, pos) -> torch.Tensor:
        if self.grad_checkpointing and not torch.jit.is_scripting() and x.requires_grad:
            return checkpoint(blk, x, grid, pos, use_reentrant=False)
        return blk(x, grid, pos)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) → final-normed tokens (B, M + 1, C), class token at index M // 2."""
        x, grid, pos = self._embed(x)
        for blk in self.blocks:
            x = self._run_block(blk, x, grid, pos)
        return self.norm(x.to(self.norm.weight.dtype))

    def _split_tokens(self, x: torch.Tensor) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
        """(B, T, C) → (class token (B, C) or None, patch tokens (B, M, C))."""
        if not self.has_class_token:
            return None, x
        p = _cls_index(x.shape[1] - 1)
        return x[:, p], torch.cat([x[:, :p], x[:, p + 1:]], dim=1)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "token":
            x = self._split_tokens(x)[0]
        elif self.global_pool == "avg":
            x = self._split_tokens(x)[1].mean(dim=1)
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(
            self,
            x: torch.Tensor,
            indices: Optional[Union[int, List[int]]] = None,
            return_prefix_tokens: bool = False,
            norm: bool = False,
            stop_early: bool = False,
            output_fmt: str = "NCHW",
            intermediates_only: bool = False,
    ):
        """Residual stream after the chosen blocks as NCHW maps (class token removed; with
        ``return_prefix_tokens`` each entry is (map, class token (B, 1, C)))."""
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError("output_fmt must be 'NCHW' or 'NLC'")
        take_indices, max_index = feature_take_indices(len(self.blocks), indices)
        x, grid, pos = self._embed(x)
        blocks = self.blocks if not stop_early else self.blocks[:max_index + 1]
        intermediates = []
        for i, blk in enumerate(blocks):
            x = self._run_block(blk, x, grid, pos)
            if i in take_indices:
                y = self.norm(x.to(self.norm.weight.dtype)) if norm else x
                cls, patches = self._split_tokens(y)
                if output_fmt == "NCHW":
                    patches = patches.transpose(1, 2).reshape(y.shape[0], -1, grid[0], grid[1])
                if return_prefix_tokens and cls is not None:
                    intermediates.append((patches, cls.unsqueeze(1)))
                else:
                    intermediates.append(patches)
        if intermediates_only:
            return intermediates
        return self.norm(x.to(self.norm.weight.dtype)), intermediates

    def prune_intermediate_layers(self, indices: Union[int, List[int]] = 1, prune_norm: bool = False,
                                  prune_head: bool = True) -> List[int]:
        take_indices, max_index = feature_take_indices(len(self.blocks), indices)
        self.blocks = self.blocks[:max_index + 1]
        self.feature_info = self.feature_info[:max_index + 1]
        if prune_norm:
            self.norm = nn.Identity()
        if prune_head:
            self.reset_classifier(0, "")
        return take_indices


# -- official checkpoints ----------------------------------------------------------------------------
def _grid_of(length: int, class_token: bool) -> Tuple[int, int]:
    m = length - int(class_token)
    side = int(round(math.sqrt(m)))
    if side * side != m:
        raise ValueError(f"cannot infer a square patch grid from a pos_embed of {length} entries")
    return side, side


def checkpoint_filter_fn(state_dict: Mapping, model: VisionMamba) -> Dict[str, torch.Tensor]:
    """Official Vim checkpoints ({'model': ...}, ``module.`` prefixes) or ours → our keys; the position
    embedding is resized to the model's grid around the middle class token when the sizes differ."""
    sd = unwrap_state_dict(state_dict)
    if is_official(sd):
        sd = convert_official(sd)
    pos = sd.get("pos_embed")
    if pos is not None and pos.shape != model.pos_embed.shape:
        old_grid = _grid_of(pos.shape[1], model.has_class_token)
        sd["pos_embed"] = resize_pos_embed(pos, model.patch_embed.grid_size, old_grid, model.has_class_token)
    return checked_weights(sd, model)


def guess_variant(state_dict: Mapping[str, torch.Tensor]) -> str:
    sd = convert_official(state_dict) if is_official(state_dict) else state_dict
    dim = sd["pos_embed"].shape[-1] if "pos_embed" in sd else None
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    names = {192: "vim_tiny", 384: "vim_small", 768: "vim_base"}
    name = names.get(dim, "an unreleased Vim")
    tokens = sd["pos_embed"].shape[1] if "pos_embed" in sd else None
    if tokens == 730:
        name += "_stride8"
    return f"{name} (embed_dim {dim}, depth {depth}, pos_embed of {tokens} tokens)"


# -- registry --------------------------------------------------------------------------------------
def _cfg(url: str = "", **kwargs) -> Dict[str, Any]:
    return {
        "url": url, "num_classes": 1000, "input_size": (3, 224, 224),
        "crop_pct": 0.875, "interpolation": "bicubic", "fixed_input_size": False,
        "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225),
        "first_conv": "patch_embed.proj", "classifier": "head",
        "license": "apache-2.0", "paper_ids": "arXiv:2401.09417", "paper_name": "Vision Mamba",
        "origin_url": "https://github.com/hustvl/Vim", **kwargs,
    }


def _hf(repo: str, filename: str, **kwargs) -> Dict[str, Any]:
    return _cfg(url=f"https://huggingface.co/{repo}/resolve/main/{filename}", hf_hub_id=repo,
                hf_hub_filename=filename, **kwargs)


default_cfgs = generate_default_cfgs({
    "vim_tiny.in1k": _hf("hustvl/Vim-tiny-midclstok", "vim_t_midclstok_76p1acc.pth",
                         notes=("Vim-Ti",)),
    "vim_tiny_stride8.in1k": _hf("hustvl/Vim-tiny-midclstok", "vim_t_midclstok_ft_78p3acc.pth",
                                 notes=("Vim-Ti+, stride-8 fine-tune",)),
    "vim_small.in1k": _hf("hustvl/Vim-small-midclstok", "vim_s_midclstok_80p5acc.pth",
                          notes=("Vim-S",)),
    "vim_small_stride8.in1k": _hf("hustvl/Vim-small-midclstok", "vim_s_midclstok_ft_81p6acc.pth",
                                  notes=("Vim-S+, stride-8 fine-tune",)),
    "vim_base.in1k": _hf("hustvl/Vim-base-midclstok", "vim_b_midclstok_81p9acc.pth",
                         notes=("Vim-B",)),
    "test_vim": _cfg(**TEST_CFG),
})


def _create_vim(variant: str, pretrained: bool = False, **kwargs) -> VisionMamba:
    out_indices = kwargs.pop("out_indices", 3)
    return build_model_with_cfg(
        VisionMamba, variant, pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg={"out_indices": out_indices, "feature_cls": "getter"},
        **kwargs,
    )


@register_model
def vim_tiny(pretrained: bool = False, **kwargs) -> VisionMamba:
    """Vim-Ti: embed 192, depth 24, patch 16."""
    args = {"patch_size": 16, "stride": 16, "embed_dim": 192, "depth": 24, "d_state": 16}
    return _create_vim("vim_tiny", pretrained, **dict(args, **kwargs))


@register_model
def vim_tiny_stride8(pretrained: bool = False, **kwargs) -> VisionMamba:
    """Vim-Ti+: Vim-Ti fine-tuned with 16×16 patches at stride 8 (27×27 tokens at 224)."""
    args = {"patch_size": 16, "stride": 8, "embed_dim": 192, "depth": 24, "d_state": 16}
    return _create_vim("vim_tiny_stride8", pretrained, **dict(args, **kwargs))


@register_model
def vim_small(pretrained: bool = False, **kwargs) -> VisionMamba:
    """Vim-S: embed 384, depth 24, patch 16."""
    args = {"patch_size": 16, "stride": 16, "embed_dim": 384, "depth": 24, "d_state": 16}
    return _create_vim("vim_small", pretrained, **dict(args, **kwargs))


@register_model
def vim_small_stride8(pretrained: bool = False, **kwargs) -> VisionMamba:
    """Vim-S+: Vim-S fine-tuned with 16×16 patches at stride 8."""
    args = {"patch_size": 16, "stride": 8, "embed_dim": 384, "depth": 24, "d_state": 16}
    return _create_vim("vim_small_stride8", pretrained, **dict(args, **kwargs))


@register_model
def vim_base(pretrained: bool = False, **kwargs) -> VisionMamba:
    """Vim-B: embed 768, depth 24, patch 16."""
    args = {"patch_size": 16, "stride": 16, "embed_dim": 768, "depth": 24, "d_state": 16}
    return _create_vim("vim_base", pretrained, **dict(args, **kwargs))


# shrunk depth/width, same architecture; Vim needs img_size so its position embedding matches 64×64
SMALL_TEST_CONFIGS = {
    "vim_tiny": {"embed_dim": 32, "depth": 3, "img_size": 64},
    "vim_tiny_stride8": {"embed_dim": 32, "depth": 3, "img_size": 64},
    "vim_small": {"embed_dim": 48, "depth": 3, "img_size": 64},
    "vim_small_stride8": {"embed_dim": 48, "depth": 3, "img_size": 64},
    "vim_base": {"embed_dim": 64, "depth": 3, "img_size": 64},
}


@register_model
def test_vim(pretrained: bool = False, **kwargs) -> VisionMamba:
    """Tiny Vim for tests: embed 32, depth 3, 16×16 patches on a 64×64 input (4×4 tokens), no weights."""
    args = {"img_size": 64, "patch_size": 16, "stride": 16, "embed_dim": 32, "depth": 3, "d_state": 16}
    return _create_vim("test_vim", pretrained, **dict(args, **kwargs))
