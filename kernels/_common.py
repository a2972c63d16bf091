"""What every selective-scan backend shares: B/C group layout, gradient casts, the FLOP rule, a few constants.

B and C come as (batch, N, L) (one group) or grouped (batch, G, N, L), where channel d of D uses group
d // (D / G). Backends work on the 4-D grouped form, expand it per channel where they need it, and sum
per-channel (or per-program) B/C gradients back to the caller's layout with reshape-sums (deterministic,
no atomics).
"""
import math
from typing import Optional, Sequence, Tuple

import torch

# log2(e): decays are evaluated as 2^(Δ·A·log2 e), one exp2 per decay
LOG2E = 1.0 / math.log(2.0)


def as_grouped(bc: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """(batch, N, L) → (batch, 1, N, L); grouped (batch, G, N, L) unchanged; None stays None."""
    if bc is None:
        return None
    return bc.unsqueeze(1) if bc.dim() == 3 else bc


def num_groups(bc: Optional[torch.Tensor]) -> int:
    """G of a grouped B/C, 1 for (batch, N, L) or None."""
    return bc.shape[1] if (bc is not None and bc.dim() == 4) else 1


def expand_groups(bc: torch.Tensor, channels: int) -> torch.Tensor:
    """(batch, N, L) or grouped (batch, G, N, L) → (batch, channels, N, L), channel d using group d // (channels / G)."""
    if bc.dim() == 3:
        return bc.unsqueeze(1).expand(-1, channels, -1, -1)
    return regroup(bc, channels)


def regroup(bc: torch.Tensor, groups: int) -> torch.Tensor:
    """Grouped (batch, G, N, L) → (batch, groups, N, L) for ``groups`` a multiple of G (each group repeated)."""
    return bc if bc.shape[1] == groups else bc.repeat_interleave(groups // bc.shape[1], dim=1)


def common_groups(B: torch.Tensor, C: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """B and C brought to one grouping (the lcm of theirs), both (batch, G, N, L): one group index per channel."""
    Bg, Cg = as_grouped(B), as_grouped(C)
    groups = math.lcm(Bg.shape[1], Cg.shape[1])
    return regroup(Bg, groups), regroup(Cg, groups)


def group_span(d0: int, d1: int, channels_per_group: int) -> Tuple[int, int]:
    """Groups [g0, g1) touched by channels [d0, d1) (at least one: a block may lie inside one group)."""
    g0 = d0 // channels_per_group
    return g0, max(g0 + 1, d1 // channels_per_group)


def sum_to_groups(per_part: torch.Tensor, groups: int, dim: int) -> torch.Tensor:
    """(batch, P, N, L) B/C gradients of P consecutive parts (channels or programs, P a multiple of ``groups``) →
    the caller's layout: (batch, G, N, L), or (batch, N, L) when the input was 3-D (``dim == 3``)."""
    batch, parts = per_part.shape[:2]
    out = per_part.reshape(batch, groups, parts // groups, *per_part.shape[2:]).sum(2)
    return out.squeeze(1) if dim == 3 else out


def cast_grads(grads: Sequence[Optional[torch.Tensor]], inputs: Sequence[Optional[torch.Tensor]]) -> tuple:
    """Each float32 gradient in its input's dtype (None where the input or its gradient is None)."""
    return tuple(g.to(x.dtype) if (g is not None and x is not None) else None for g, x in zip(grads, inputs))


def will_backward(*tensors) -> bool:
    """Whether autograd will record this call. Inside ``Function.forward`` ``ctx.needs_input_grad`` reads the
    inputs' ``requires_grad`` even under ``torch.no_grad()``, so the grad mode is checked here, outside."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def scan_flops(batch: int, length: int, channels: int, state: int, with_C: bool = True, with_D: bool = True,
               with_z: bool = False) -> int:
    """FLOPs of one selective scan by VMamba's rule (``flops_selective_scan_fn``, after state-spaces/mamba#110).

    9·B·L·D·N for the scan with the output contraction y = <C, h>: Δ·A, Δ·B·u, the recurrence and <C, h>,
    where <C, h> is one multiply-add per (b, d, l, n), 2 FLOPs; without C (the hidden states are the output)
    that contraction is not done: 7·B·L·D·N (Spatial-Mamba's rule for its state kernel). + B·D·L for the D skip
    and + B·D·L for the z gate, each only with C: the states are returned before D and z would apply.
    """
    flops = (9 if with_C else 7) * batch * length * channels * state
    if with_C and with_D:
        flops += batch * channels * length
    if with_C and with_z:
        flops += batch * channels * length
    return flops
