"""PlainMamba: a plain (non-hierarchical) stack of 2D Mamba layers with zig-zag scans.

Paper: "PlainMamba: Improving Non-Hierarchical Mamba in Visual Recognition", Yang et al., BMVC 2024,
arXiv:2403.17695. Official code and weights: https://github.com/ChenhongyiYang/PlainMamba (Apache-2.0),
checkpoints on https://huggingface.co/ChenhongyiYang/PlainMamba.

Architecture: a convolutional stem (7×7 s2 conv + BN + ReLU, 0-2 more 3×3 convs, an 8×8 stride-8 projection) to
a /16 token grid, an absolute position embedding, then layers x ← x + mixer(LN(x)). The mixer projects to 2E
channels (x, z), runs a depthwise 7×7 conv + SiLU on x, and four selective scans along the ``snake`` strategy's
zig-zag routes, one shared set of SSM parameters for all four, with a learned bias added to B for the move that
led to each step ("direction-aware updating"); the four outputs are summed, gated by SiLU(z) and projected back.
The L1 model adds a depthwise 3×3 conv + BN + GELU (no residual) after its first layer. Final LayerNorm, mean
pooling, linear head.

Two official details are reproduced because the released weights depend on them: only the input u is put in scan
order, so step t of every route uses Δ, B and C of row-major token t (``scan_params='raster'``; 'token' gives
every token its own); and the dt projection's bias is added twice (once in the projection, once as the scan's
``delta_bias``).

Beyond the official code: ``features_only`` / ``forward_intermediates`` token maps, any registered scan strategy
(codes from its moves), and token pruning (``pruning=dict(layers=..., keep_ratio=...)``, see
``visionssm.pruning``).
"""
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from timm.layers import DropPath, to_2tuple, trunc_normal_
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._features import feature_take_indices
from torch import nn
from torch.utils.checkpoint import checkpoint

from visionssm.convert.common import checked_weights, unwrap_state_dict
from visionssm.convert.plainmamba import convert_official, is_official
from visionssm.kernels import selective_scan
from visionssm.pruning.core import (
    PruningConfig,
    aligned_delta,
    compact_steps,
    gather_tokens,
    mask_from_index,
    num_kept,
    select_tokens,
    token_scores,
)
from visionssm.scans import get_scan
from visionssm.scans.snake import NUM_CODES, move_codes

from ._test_variants import TEST_CFG

__all__ = ["PlainMamba", "PlainMambaMixer", "PlainMambaLayer", "checkpoint_filter_fn", "resize_pos_embed"]


def resize_pos_embed(pos_embed: torch.Tensor, new_grid: Tuple[int, int], old_grid: Tuple[int, int]) -> torch.Tensor:
    """(1, h·w, C) → (1, h'·w', C), bicubic (align_corners=False), as the official model resizes it."""
    if tuple(new_grid) == tuple(old_grid):
        return pos_embed
    C = pos_embed.shape[-1]
    grid = pos_embed.reshape(1, old_grid[0], old_grid[1], C).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=tuple(new_grid), mode="bicubic", align_corners=False)
    return grid.flatten(2).transpose(1, 2).to(pos_embed.dtype)


class ConvPatchEmbed(nn.Module):
    """/16 stem: 7×7 s2 conv-BN-ReLU, ``num_convs`` × (3×3 conv-BN-ReLU), pad bottom/right to a multiple of the
    projection stride, ``patch_size/2`` × ``patch_size/2`` projection at that stride. Returns NCHW."""

    def __init__(self, in_chans: int = 3, embed_dim: int = 192, num_convs: int = 1, patch_size: int = 16,
                 stem_chs: int = 64):
        super().__init__()
        if patch_size % 2:
            raise ValueError(f"patch_size must be even (got {patch_size})")
        self.stride = patch_size // 2
        self.stem = nn.Sequential(nn.Conv2d(in_chans, stem_chs, 7, 2, 3, bias=False), nn.BatchNorm2d(stem_chs),
                                  nn.ReLU(True))
        convs: List[nn.Module] = []
        for _ in range(num_convs):
            convs += [nn.Conv2d(stem_chs, stem_chs, 3, 1, 1, bias=False), nn.BatchNorm2d(stem_chs), nn.ReLU(True)]
        self.convs = nn.Sequential(*convs) if convs else None
        self.proj = nn.Conv2d(stem_chs, embed_dim, self.stride, self.stride)

    def grid_for(self, size: Tuple[int, int]) -> Tuple[int, int]:
        """Token grid of an input size as the official model sizes its position embedding (floor(H / 2) first)."""
        return tuple(-(-(s // 2) // self.stride) for s in size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        if self.convs is not None:
            x = self.convs(x)
        H, W = x.shape[-2:]
        pad_h, pad_w = (-H) % self.stride, (-W) % self.stride
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return self.proj(x)


def _check_finite(delta: torch.Tensor) -> None:
    """The op's NaN/Inf guard on Δ as one reduction (any NaN/Inf makes the sum non-finite), not elementwise; skipped
    on CUDA, where it would synchronise."""
    if delta.device.type != "cuda" and not bool(torch.isfinite(delta.detach().sum(dtype=torch.float32))):
        raise ValueError("PlainMambaMixer: Δ contains NaN or Inf (or overflows float32); check the dt projection and "
                         "its inputs (or the learning rate) upstream of the scan.")


class PlainMambaMixer(nn.Module):
    """PlainMamba's 2D selective-scan mixer (``PlainMamba2D``), with optional token pruning.

    Args:
        dim: model width C. d_state: N. expand: E = expand·C. dt_rank: "auto" = ceil(C / 16).
        conv_size: depthwise conv kernel. bias / conv_bias: Linear / conv biases.
        scan: a registered strategy (default 'snake'); its ``direction_codes`` (or, for plain permutations, the
            codes of its moves) index ``direction_Bs``.
        scan_params: 'raster' (official: step t uses Δ/B/C of row-major token t) or 'token'.
        backend: selective-scan backend.
    """

    def __init__(self, dim: int, d_state: int = 16, expand: float = 2, dt_rank="auto", conv_size: int = 7,
                 bias: bool = True, conv_bias: bool = True, scan="snake", scan_params: str = "raster",
                 dt_min: float = 0.001, dt_max: float = 0.1, dt_init_floor: float = 1e-4, backend: str = "auto"):
        super().__init__()
        if scan_params not in ("raster", "token"):
            raise ValueError(f"scan_params must be 'raster' or 'token' (got {scan_params!r})")
        self.dim, self.d_state = dim, d_state
        self.d_inner = E = int(expand * dim)
        self.dt_rank = math.ceil(dim / 16) if dt_rank == "auto" else int(dt_rank)
        self.scan = get_scan(scan, d_inner=E)
        self.num_directions = self.scan.num_directions
        self.scan_params = scan_params
        self.backend = backend
        self.in_proj = nn.Linear(dim, 2 * E, bias=bias)
        self.conv2d = nn.Conv2d(E, E, conv_size, padding=conv_size // 2, groups=E, bias=conv_bias)
        self.act = nn.SiLU()
        self.x_proj = nn.Linear(E, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, E, bias=True)
        self.A_log = nn.Parameter(torch.empty(E, d_state))
        self.D = nn.Parameter(torch.empty(E))
        self.out_proj = nn.Linear(E, dim, bias=bias)
        self.direction_Bs = nn.Parameter(torch.empty(NUM_CODES, d_state))
        self._dt_range = (dt_min, dt_max, dt_init_floor)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Mamba's init for dt (log-uniform in [dt_min, dt_max] through inverse softplus), A = -[1..N], D = 1;
        direction biases trunc-normal(0.02) as the official model."""
        dt_min, dt_max, floor = self._dt_range
        std = self.dt_rank ** -0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=floor)
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log.copy_(torch.log(torch.arange(1, self.d_state + 1, dtype=torch.float32)).expand(self.d_inner, -1))
        self.D.fill_(1.0)
        trunc_normal_(self.direction_Bs, std=0.02)

    def _route(self, H: int, W: int, device) -> Tuple[torch.Tensor, torch.Tensor]:
        """(orders, codes), each (K, H·W), built and checked once per (H, W, device)."""
        cache = self.__dict__.setdefault("_route_cache", {})
        key = (H, W, str(device))
        if key not in cache:
            orders = self.scan.token_orders(H, W, "cpu")
            if orders.shape[1] != H * W or bool((orders < 0).any()):
                raise ValueError(f"scan {self.scan.scan_name!r} pads or skips tokens on a {H}x{W} grid; PlainMamba "
                                 f"needs a strategy whose routes visit every token once (e.g. 'snake')")
            codes = (self.scan.direction_codes(H, W, "cpu") if hasattr(self.scan, "direction_codes")
                     else move_codes(orders, W))
            cache[key] = (orders.to(device), codes.to(device))
        return cache[key]

    def forward(self, x: torch.Tensor, hw: Tuple[int, int], keep: Optional[torch.Tensor] = None,
                index: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, C) → (out (B, T, C), SSM output before gating (B, T, E), for importance scores).

        Dense: T = H·W row-major tokens. ``keep`` (B, H·W) bool: aligned pruning in place (pruned tokens feed
        zeros to the conv and Δ = 0 to the scan). ``index`` (B, T) ascending raster positions of the T kept
        tokens: the compacted form of the same computation.
        """
        H, W = hw
        L = H * W
        Bsz, T, _ = x.shape
        E, N, K = self.d_inner, self.d_state, self.num_directions
        xs, z = self.in_proj(x).chunk(2, dim=-1)
        if keep is not None:
            xs = xs * keep.unsqueeze(-1).to(xs.dtype)
        if index is not None:
            xs = xs.new_zeros(Bsz, L, E).scatter(1, index.unsqueeze(-1).expand(-1, -1, E), xs)
        xc = self.act(self.conv2d(xs.transpose(1, 2).reshape(Bsz, E, H, W))).flatten(2)  # (B, E, L)
        dt, Bm, Cm = torch.split(self.x_proj(xc.transpose(1, 2)), [self.dt_rank, N, N], dim=-1)
        dt = self.dt_proj(dt).transpose(1, 2)  # (B, E, L), includes the dt bias once
        Bm, Cm = Bm.transpose(1, 2), Cm.transpose(1, 2)  # (B, N, L)
        orders, codes = self._route(H, W, x.device)  # (K, L) each
        A = -torch.exp(self.A_log.float()).repeat(K, 1)
        D = self.D.float().repeat(K)
        bias = self.dt_proj.bias.float()
        if index is not None:
            y = self._scan_compact(xc, dt, Bm, Cm, orders, codes, A, D, bias, index)  # (B, E, T)
        else:
            y = self._scan_full(xc, dt, Bm, Cm, orders, codes, A, D, bias, keep, H, W)  # (B, E, L)
        y = y.transpose(1, 2)
        return self.out_proj(y * self.act(z)), y

    def _step_params(self, dt, Bm, Cm, src):
        """Δ/B/C of every scan step (B, K, ·, S): ``src`` (B, K, S) holds, per step, the raster token to read
        (the step index itself with ``scan_params='raster'``, the visited token with 'token')."""
        Bsz = dt.shape[0]
        K, S = src.shape[1:]

        def take(t):
            flat = src.reshape(Bsz, 1, K * S).expand(-1, t.shape[1], -1)
            return torch.gather(t, 2, flat).view(Bsz, t.shape[1], K, S).transpose(1, 2)
        return take(dt), take(Bm), take(Cm)

    def _scan_full(self, xc, dt, Bm, Cm, orders, codes, A, D, bias, keep, H, W):
        Bsz, E, L = xc.shape
        K = orders.shape[0]
        u = xc[:, :, orders.reshape(-1)].view(Bsz, E, K, L).transpose(1, 2)  # (B, K, E, L)
        if self.scan_params == "raster":  # every route reads Δ/B/C of row-major token t at its step t
            dts, Bs, Cs = dt.unsqueeze(1).expand(-1, K, -1, -1), Bm.unsqueeze(1), Cm.unsqueeze(1)  # C: one group
        else:
            dts, Bs, Cs = self._step_params(dt, Bm, Cm, orders.expand(Bsz, K, L))
        Bs = Bs + self.direction_Bs[codes].transpose(1, 2).to(Bs.dtype)  # (B, K, N, L)
        u, dts = u.reshape(Bsz, K * E, L), dts.reshape(Bsz, K * E, L)
        if keep is None:
            _check_finite(dts)
            y = selective_scan(u, dts, A, Bs.contiguous(), Cs.contiguous(), D, None, bias.repeat(K), True,
                               backend=self.backend, check_finite=False)
        else:
            step_keep = keep[:, orders.reshape(-1)].view(Bsz, K, 1, L).expand(-1, -1, E, -1).reshape(Bsz, K * E, L)
            delta = aligned_delta(dts, bias.repeat(K), step_keep)
            _check_finite(delta)
            y = selective_scan(u, delta, A, Bs.contiguous(), Cs.contiguous(), D, None, None, False, backend=self.backend,
                               check_finite=False)
        return self.scan.merge(y.view(Bsz, K, E, L), H, W).reshape(Bsz, E, L)

    def _scan_compact(self, xc, dt, Bm, Cm, orders, codes, A, D, bias, index):
        Bsz, E, L = xc.shape
        K, T = orders.shape[0], index.shape[1]
        keep = mask_from_index(index, L)
        step_keep = keep[:, orders.reshape(-1)].view(Bsz, K, L)
        steps = compact_steps(step_keep, T)  # (B, K, T) kept steps of each route, in route order
        tok = torch.gather(orders.expand(Bsz, K, L), 2, steps)  # raster position visited at those steps
        u = torch.gather(xc, 2, tok.reshape(Bsz, 1, K * T).expand(-1, E, -1)).view(Bsz, E, K, T).transpose(1, 2)
        dts, Bs, Cs = self._step_params(dt, Bm, Cm, steps if self.scan_params == "raster" else tok)
        step_codes = torch.gather(codes.expand(Bsz, K, L), 2, steps)
        Bs = Bs + self.direction_Bs[step_codes].transpose(2, 3).to(Bs.dtype)
        u, dts = u.reshape(Bsz, K * E, T), dts.reshape(Bsz, K * E, T)
        delta = F.softplus(dts.float() + bias.repeat(K)[:, None]).to(dts.dtype)
        _check_finite(delta)
        y = selective_scan(u, delta, A, Bs.contiguous(), Cs.contiguous(), D, None, None, False, backend=self.backend,
                           check_finite=False)
        rank = keep.long().cumsum(1) - 1  # raster position → index among the kept tokens
        pos = torch.gather(rank, 1, tok.reshape(Bsz, K * T))
        out = y.new_zeros(Bsz, E, T)
        return out.scatter_add_(2, pos.unsqueeze(1).expand(-1, E, -1), y.view(Bsz, K, E, T).transpose(1, 2)
                                .reshape(Bsz, E, K * T))


class PlainMambaLayer(nn.Module):
    """x ← x + drop_path(mixer(LN(x))); then, in layers with ``with_dwconv``, DW3×3-BN-GELU on the map (no
    residual)."""

    def __init__(self, dim: int, mixer: PlainMambaMixer, with_dwconv: bool = False, drop_path: float = 0.0,
                 norm_eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self.mixer = mixer
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.dw = nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1, groups=dim, bias=False), nn.BatchNorm2d(dim),
                                nn.GELU()) if with_dwconv else None

    def forward(self, x: torch.Tensor, hw: Tuple[int, int], keep: Optional[torch.Tensor] = None,
                index: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        out, y = self.mixer(self.norm(x), hw, keep, index)
        out = self.drop_path(out)
        if keep is not None:
            out = out * keep.unsqueeze(-1).to(out.dtype)  # pruned tokens stay as they were
        x = x + out
        if self.dw is not None:
            Bsz, L, C = x.shape
            x = self.dw(x.transpose(1, 2).reshape(Bsz, C, *hw)).flatten(2).transpose(1, 2)
        return x, y


class PlainMamba(nn.Module):
    """PlainMamba.

    Args:
        img_size: size the position embedding is built for (other sizes resize it bicubically).
        patch_size: total stride (16); the stem halves, the projection takes patch_size / 2.
        embed_dim, depth: width and number of layers. num_convs_patch_embed: extra 3×3 stem convs.
        layers_with_dwconv: layer indices followed by DW3×3-BN-GELU (L1: [0]).
        d_state, expand, conv_size, dt_rank: mixer settings. scan / scan_params: see ``PlainMambaMixer``.
        global_pool: 'avg' (official: mean of the final-normed tokens) or ''.
        pruning: ``visionssm.pruning.PruningConfig`` or its dict (None: dense).
    """

    def __init__(
            self,
            img_size: Union[int, Tuple[int, int]] = 224,
            patch_size: int = 16,
            in_chans: int = 3,
            num_classes: int = 1000,
            global_pool: str = "avg",
            embed_dim: int = 192,
            depth: int = 24,
            num_convs_patch_embed: int = 1,
            layers_with_dwconv: Sequence[int] = (0,),
            d_state: int = 16,
            expand: float = 2,
            conv_size: int = 7,
            dt_rank="auto",
            bias: bool = True,
            conv_bias: bool = True,
            scan="snake",
            scan_params: str = "raster",
            norm_eps: float = 1e-5,
            final_norm_eps: float = 1e-6,
            drop_rate: float = 0.0,
            drop_path_rate: float = 0.0,
            pruning: Union[None, PruningConfig, Mapping[str, Any]] = None,
            backend: str = "auto",
    ):
        super().__init__()
        if global_pool not in ("avg", ""):
            raise ValueError(f"global_pool must be 'avg' or '' (got {global_pool!r})")
        self.num_classes, self.in_chans, self.global_pool = num_classes, in_chans, global_pool
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.num_prefix_tokens = 0
        self.grad_checkpointing = False
        self.img_size = to_2tuple(img_size)
        self.layers_with_dwconv = tuple(sorted(int(i) for i in layers_with_dwconv))
        self.patch_embed = ConvPatchEmbed(in_chans, embed_dim, num_convs_patch_embed, patch_size)
        self.grid_size = self.patch_embed.grid_for(self.img_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid_size[0] * self.grid_size[1], embed_dim))
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList([
            PlainMambaLayer(embed_dim, PlainMambaMixer(embed_dim, d_state, expand, dt_rank, conv_size, bias, conv_bias,
                                                       scan, scan_params, backend=backend),
                            with_dwconv=i in self.layers_with_dwconv, drop_path=dpr[i], norm_eps=norm_eps)
            for i in range(depth)])
        self.scan_name = self.blocks[0].mixer.scan.scan_name if depth else str(scan)
        self.norm = nn.LayerNorm(embed_dim, eps=final_norm_eps)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.feature_info = [{"module": f"blocks.{i}", "num_chs": embed_dim, "reduction": patch_size}
                             for i in range(depth)]
        self.pruning: Optional[PruningConfig] = None
        self.set_pruning(pruning)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """Official init: trunc-normal(0.02) Linear weights with zero biases, position embedding trunc-normal(0.02);
        the SSM parameters keep the mixer's own init (Mamba's dt bias)."""
        trunc_normal_(self.pos_embed, std=0.02)
        for name, m in self.named_modules():
            if isinstance(m, nn.Linear) and not name.endswith("dt_proj"):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def set_pruning(self, pruning: Union[None, PruningConfig, Mapping[str, Any]]) -> None:
        """Turn token pruning on (a config or its dict) or off (None)."""
        cfg = PruningConfig.build(pruning)
        if cfg is not None:
            cfg.check_depth(len(self.blocks), first_allowed=max(self.layers_with_dwconv, default=-1) + 1)
        self.pruning = cfg

    # -- timm API --------------------------------------------------------------------------------
    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        names = {"pos_embed"}
        for name, _ in self.named_parameters():
            if name.endswith(("mixer.A_log", "mixer.D", "mixer.direction_Bs")):
                names.add(name)
        return names

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> Dict[str, Any]:
        return {"stem": r"^pos_embed|^patch_embed", "blocks": [(r"^blocks\.(\d+)", None), (r"^norm", (99999,))]}

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        self.num_classes = num_classes
        if global_pool is not None:
            if global_pool not in ("avg", ""):
                raise ValueError(f"global_pool must be 'avg' or '' (got {global_pool!r})")
            self.global_pool = global_pool
        self.head = nn.Linear(self.embed_dim, num_classes) if num_classes > 0 else nn.Identity()

    # -- forward ---------------------------------------------------------------------------------
    def _embed(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        x = self.patch_embed(x)
        grid = tuple(x.shape[-2:])
        x = x.flatten(2).transpose(1, 2)
        x = x + resize_pos_embed(self.pos_embed, grid, self.grid_size).to(x.dtype)
        return self.pos_drop(x), grid

    def _run(self, blk: nn.Module, x, grid, keep=None, index=None):
        if self.grad_checkpointing and not torch.jit.is_scripting() and x.requires_grad:
            return checkpoint(blk, x, grid, keep, index, use_reentrant=False)
        return blk(x, grid, keep, index)

    def _forward_pruned(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens through the layers with ``self.pruning``; returns the final-normed kept tokens (B, k, C)."""
        cfg = self.pruning
        x, grid = self._embed(x)
        Bsz, L = x.shape[:2]
        keep = index = None
        count = L
        aligned_in_place = cfg.method == "aligned" and not cfg.compact
        if aligned_in_place:
            keep = torch.ones(Bsz, L, dtype=torch.bool, device=x.device)
        for i, blk in enumerate(self.blocks):
            x, y = self._run(blk, x, grid, keep, index)
            if i not in cfg.layers:
                continue
            score = token_scores(y, cfg.score)  # (B, T)
            count = num_kept(count, cfg.keep_ratio)
            if cfg.method == "naive":  # EViT: gather the kept tokens; the grid is gone, they form one row
                sel = select_tokens(score, count, order=cfg.naive_order)
                x, grid = gather_tokens(x, sel), (1, sel.shape[1])
            elif aligned_in_place:
                keep = mask_from_index(select_tokens(score, count, valid=keep), L)
            else:
                sel = select_tokens(score, count, order="raster")
                x = gather_tokens(x, sel)
                index = sel if index is None else torch.gather(index, 1, sel)
        x = self.norm(x)
        if aligned_in_place:
            x = gather_tokens(x, compact_steps(keep, count))
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) → final-normed tokens (B, h·w, C), row-major; with pruning the kept tokens (B, k, C)."""
        if self.pruning is not None:
            return self._forward_pruned(x)
        x, grid = self._embed(x)
        for blk in self.blocks:
            x = self._run(blk, x, grid)[0]
        return self.norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "avg":
            x = x.mean(dim=1)
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(
            self,
            x: torch.Tensor,
            indices: Optional[Union[int, List[int]]] = None,
            norm: bool = False,
            stop_early: bool = False,
            output_fmt: str = "NCHW",
            intermediates_only: bool = False,
    ):
        """Token maps after the chosen layers (NCHW or NLC); ``norm`` applies the final LayerNorm to them."""
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError("output_fmt must be 'NCHW' or 'NLC'")
        if self.pruning is not None:
            raise ValueError("forward_intermediates returns full token maps: turn pruning off first "
                             "(model.set_pruning(None))")
        take_indices, max_index = feature_take_indices(len(self.blocks), indices)
        x, grid = self._embed(x)
        blocks = self.blocks[:max_index + 1] if stop_early else self.blocks
        intermediates = []
        for i, blk in enumerate(blocks):
            x = self._run(blk, x, grid)[0]
            if i in take_indices:
                y = self.norm(x) if norm else x
                if output_fmt == "NCHW":
                    y = y.transpose(1, 2).reshape(y.shape[0], -1, *grid)
                intermediates.append(y)
        if intermediates_only:
            return intermediates
        return self.norm(x), intermediates

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
def checkpoint_filter_fn(state_dict: Mapping, model: PlainMamba) -> Dict[str, torch.Tensor]:
    """Official checkpoints ({'state_dict': ...} with ``backbone.`` / ``head.fc.`` keys) or ours → our keys; the
    position embedding is resized to the model's grid when they differ."""
    sd = unwrap_state_dict(state_dict)
    if is_official(sd):
        sd = convert_official(sd)
    pos = sd.get("pos_embed")
    if pos is not None and pos.shape != model.pos_embed.shape:
        side = int(round(math.sqrt(pos.shape[1])))
        if side * side != pos.shape[1]:
            raise ValueError(f"cannot infer a square token grid from a pos_embed of {pos.shape[1]} entries")
        sd["pos_embed"] = resize_pos_embed(pos, model.grid_size, (side, side))
    return checked_weights(sd, model)


def guess_variant(state_dict: Mapping[str, torch.Tensor]) -> str:
    sd = convert_official(state_dict) if is_official(state_dict) else state_dict
    dim = sd["pos_embed"].shape[-1] if "pos_embed" in sd else None
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    names = {(192, 24): "plainmamba_l1", (384, 24): "plainmamba_l2", (448, 36): "plainmamba_l3"}
    return f"{names.get((dim, depth), 'an unreleased PlainMamba')} (embed_dim {dim}, depth {depth})"


# -- registry --------------------------------------------------------------------------------------
_HF_REPO = "ChenhongyiYang/PlainMamba"


def _cfg(url: str = "", **kwargs) -> Dict[str, Any]:
    return {
        "url": url, "num_classes": 1000, "input_size": (3, 224, 224), "pool_size": None,
        "crop_pct": 0.875, "interpolation": "bicubic", "fixed_input_size": False,
        "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225),
        "first_conv": "patch_embed.stem.0", "classifier": "head",
        "license": "apache-2.0", "paper_ids": "arXiv:2403.17695",
        "paper_name": "PlainMamba: Improving Non-Hierarchical Mamba in Visual Recognition",
        "origin_url": "https://github.com/ChenhongyiYang/PlainMamba", **kwargs,
    }


def _hf(filename: str, **kwargs) -> Dict[str, Any]:
    return _cfg(url=f"https://huggingface.co/{_HF_REPO}/resolve/main/{filename}", hf_hub_id=_HF_REPO,
                hf_hub_filename=filename, **kwargs)


default_cfgs = generate_default_cfgs({
    "plainmamba_l1.in1k": _hf("l1.pth", notes=("PlainMamba-L1",)),
    "plainmamba_l2.in1k": _hf("l2.pth", notes=("PlainMamba-L2",)),
    "plainmamba_l3.in1k": _hf("l3.pth", notes=("PlainMamba-L3",)),
    "test_plainmamba": _cfg(**TEST_CFG),
})


def _create(variant: str, pretrained: bool = False, **kwargs) -> PlainMamba:
    out_indices = kwargs.pop("out_indices", 3)
    return build_model_with_cfg(
        PlainMamba, variant, pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg={"out_indices": out_indices, "feature_cls": "getter"},
        **kwargs,
    )


_ARCHS = {
    "plainmamba_l1": {"embed_dim": 192, "depth": 24, "num_convs_patch_embed": 1, "layers_with_dwconv": (0,)},
    "plainmamba_l2": {"embed_dim": 384, "depth": 24, "num_convs_patch_embed": 2, "layers_with_dwconv": ()},
    "plainmamba_l3": {"embed_dim": 448, "depth": 36, "num_convs_patch_embed": 2, "layers_with_dwconv": ()},
}


@register_model
def plainmamba_l1(pretrained: bool = False, **kwargs) -> PlainMamba:
    """PlainMamba-L1: width 192, 24 layers, one extra stem conv, DW-conv after layer 0."""
    return _create("plainmamba_l1", pretrained, **dict(_ARCHS["plainmamba_l1"], **kwargs))


@register_model
def plainmamba_l2(pretrained: bool = False, **kwargs) -> PlainMamba:
    """PlainMamba-L2: width 384, 24 layers, two extra stem convs."""
    return _create("plainmamba_l2", pretrained, **dict(_ARCHS["plainmamba_l2"], **kwargs))


@register_model
def plainmamba_l3(pretrained: bool = False, **kwargs) -> PlainMamba:
    """PlainMamba-L3: width 448, 36 layers, two extra stem convs."""
    return _create("plainmamba_l3", pretrained, **dict(_ARCHS["plainmamba_l3"], **kwargs))


SMALL_TEST_CONFIGS = {
    "plainmamba_l1": {"embed_dim": 32, "depth": 3, "img_size": 64},
    "plainmamba_l2": {"embed_dim": 48, "depth": 3, "img_size": 64},
    "plainmamba_l3": {"embed_dim": 64, "depth": 3, "img_size": 64},
}


@register_model
def test_plainmamba(pretrained: bool = False, **kwargs) -> PlainMamba:
    """Tiny PlainMamba for tests: width 32, 3 layers (DW-conv after layer 0), 64×64 input (4×4 tokens)."""
    args = {"img_size": 64, "embed_dim": 32, "depth": 3, "num_convs_patch_embed": 1, "layers_with_dwconv": (0,)}
    return _create("test_plainmamba", pretrained, **dict(args, **kwargs))
