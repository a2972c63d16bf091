"""Pruning configuration, importance scores, token selection and the aligned Δ (no loops over tokens)."""
import math
from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

METHODS = ("aligned", "naive")
SCORES = ("clipped", "unclipped", "l1", "l2")
NAIVE_ORDERS = ("score", "raster")


@dataclass(frozen=True)
class PruningConfig:
    """Which layers prune and how.

    layers: block indices after which tokens are pruned (the score comes from that block's SSM output).
    keep_ratio: fraction of the remaining tokens each pruning layer keeps (EViT's progressive keep rate).
    method: "aligned" (pruned steps keep the hidden state, Δ = 0; the paper's method) or "naive" (EViT: gather
        the kept tokens and scan them as a new sequence).
    score: "clipped" S = Σ_d max(0, y_d) (the paper's), "unclipped" Σ_d y_d (the released code's), "l1", "l2".
    compact: aligned only; gather kept tokens for the per-token work and scan kept steps only (the fast path).
        False keeps every token in place and masks (the reference the compact path is tested against).
    naive_order: "score" (top-k order, as EViT and the released code gather) or "raster" (kept tokens sorted
        back into their original order).
    """

    layers: Tuple[int, ...]
    keep_ratio: float = 0.7
    method: str = "aligned"
    score: str = "clipped"
    compact: bool = True
    naive_order: str = "score"

    def __post_init__(self):
        layers = (self.layers,) if isinstance(self.layers, int) else tuple(int(i) for i in self.layers)
        object.__setattr__(self, "layers", tuple(sorted(set(layers))))
        if not self.layers:
            raise ValueError("PruningConfig: `layers` is empty; name the block indices that prune, e.g. layers=(5, 10)")
        if not 0.0 < float(self.keep_ratio) <= 1.0:
            raise ValueError(f"PruningConfig: keep_ratio={self.keep_ratio} must be in (0, 1]")
        for name, value, choices in (("method", self.method, METHODS), ("score", self.score, SCORES),
                                     ("naive_order", self.naive_order, NAIVE_ORDERS)):
            if value not in choices:
                raise ValueError(f"PruningConfig: unknown {name} {value!r}; choose one of {choices}")

    @classmethod
    def build(cls, cfg: Union[None, "PruningConfig", Mapping[str, Any]]) -> Optional["PruningConfig"]:
        """None, a config, or a dict (timm kwargs ``pruning=dict(...)``, mmengine configs) → a config or None."""
        if cfg is None or isinstance(cfg, cls):
            return cfg
        if not isinstance(cfg, Mapping):
            raise TypeError(f"pruning must be a dict or PruningConfig (got {type(cfg).__name__})")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known - {"type"})
        if unknown:
            raise TypeError(f"pruning: unknown keys {unknown}; known keys are {sorted(known)}")
        return cls(**{k: v for k, v in cfg.items() if k != "type"})

    def check_depth(self, depth: int, first_allowed: int = 0) -> None:
        bad = [i for i in self.layers if not first_allowed <= i < depth]
        if bad:
            raise ValueError(f"pruning layers {bad} out of range: this model prunes after blocks "
                             f"{first_allowed}..{depth - 1}")

    def kept_counts(self, num_tokens: int) -> Tuple[int, ...]:
        """Tokens left after each pruning layer, starting from ``num_tokens``."""
        counts, n = [], num_tokens
        for _ in self.layers:
            n = num_kept(n, self.keep_ratio)
            counts.append(n)
        return tuple(counts)


def num_kept(num_tokens: int, keep_ratio: float) -> int:
    """ceil(keep_ratio · num_tokens), at least one token."""
    return max(1, int(math.ceil(num_tokens * keep_ratio - 1e-9)))


def token_scores(y: torch.Tensor, kind: str = "clipped", channel_dim: int = -1) -> torch.Tensor:
    """Importance of every token from the SSM output y (channels along ``channel_dim``), in float32."""
    y = y.float()
    if kind == "clipped":
        return y.clamp(min=0).sum(channel_dim)
    if kind == "unclipped":
        return y.sum(channel_dim)
    if kind == "l1":
        return y.abs().sum(channel_dim)
    if kind == "l2":
        return y.square().sum(channel_dim).sqrt()
    raise ValueError(f"unknown score {kind!r}; choose one of {SCORES}")


def select_tokens(score: torch.Tensor, k: int, valid: Optional[torch.Tensor] = None,
                  order: str = "raster") -> torch.Tensor:
    """(B, T) scores → (B, k) indices of the k best tokens (among ``valid`` ones): ascending index order
    ("raster") or best first ("score")."""
    if valid is not None:
        score = score.masked_fill(~valid, float("-inf"))
    idx = score.topk(k, dim=1, sorted=order == "score").indices
    return idx.sort(dim=1).values if order == "raster" else idx


def aligned_delta(dt: torch.Tensor, dt_bias: Optional[torch.Tensor], step_keep: torch.Tensor) -> torch.Tensor:
    """softplus(dt + bias) with Δ = 0 at pruned steps: (B, D, L) dt, (D,) bias, (B, 1 or D, L) bool mask.

    Passed to the op with ``delta_softplus=False`` and no bias: a pruned step leaves the state untouched.
    """
    if dt_bias is not None:
        dt = dt + dt_bias.to(dt.dtype)[:, None]
    return F.softplus(dt.float()).mul(step_keep).to(dt.dtype)


def compact_steps(step_keep: torch.Tensor, k: int) -> torch.Tensor:
    """(..., L) bool with exactly k True per row → (..., k) indices of the True steps, in order."""
    return torch.argsort((~step_keep).to(torch.int8), dim=-1, stable=True)[..., :k]


def gather_tokens(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(B, T, C) tokens at (B, k) indices → (B, k, C)."""
    return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def mask_from_index(index: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """(B, k) indices → (B, num_tokens) bool mask."""
    mask = torch.zeros(index.shape[0], num_tokens, dtype=torch.bool, device=index.device)
    return mask.scatter_(1, index, True)


def flops_ratio(dense_flops: int, pruned_flops: int) -> float:
    """Fraction of FLOPs saved."""
    return 1.0 - pruned_flops / dense_flops


def parse_layers(text: Union[str, Sequence[int]]) -> Tuple[int, ...]:
    """"5,10,15" or a sequence → a tuple of ints (command lines and configs)."""
    if isinstance(text, str):
        return tuple(int(t) for t in text.split(",") if t.strip())
    return tuple(int(t) for t in text)
