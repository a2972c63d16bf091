"""Reference selective scan: a plain loop over tokens that defines the maths every backend must match.

Slow on purpose. Never call it on a hot path; tests and ``backend="ref"`` use it.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from ._common import expand_groups


def selective_scan_ref(
        u: torch.Tensor,
        delta: torch.Tensor,
        A: torch.Tensor,
        B: torch.Tensor,
        C: Optional[torch.Tensor],
        D: Optional[torch.Tensor] = None,
        z: Optional[torch.Tensor] = None,
        delta_bias: Optional[torch.Tensor] = None,
        delta_softplus: bool = False,
        return_last_state: bool = False,
        out_dtype: Optional[torch.dtype] = None,
):
    """Run the recurrence token by token in float32.

    h_t = exp(Δ_t·A)·h_{t-1} + Δ_t·B_t·u_t,  y_t = <C_t, h_t> + D·u_t,  y_t ← y_t·silu(z_t) if z is given.
    With ``C=None`` the hidden states (batch, D, N, L) are returned instead of y.
    """
    out_dtype = out_dtype or u.dtype
    batch, channels, length = u.shape
    u_f, delta_f = u.float(), delta.float()
    if delta_bias is not None:
        delta_f = delta_f + delta_bias.float()[None, :, None]
    if delta_softplus:
        delta_f = F.softplus(delta_f)
    A_f = A.float()
    B_f = expand_groups(B.float(), channels)
    C_f = expand_groups(C.float(), channels) if C is not None else None
    h = u_f.new_zeros(batch, channels, A.shape[1])
    ys, states = [], []
    # unbind once: indexing [..., t] inside the loop would make autograd's backward O(L²)
    dts, us, Bs = delta_f.unbind(-1), u_f.unbind(-1), B_f.unbind(-1)
    Cs = C_f.unbind(-1) if C_f is not None else None
    for t in range(length):
        dt = dts[t][:, :, None]
        h = torch.exp(dt * A_f) * h + dt * Bs[t] * us[t][:, :, None]
        if C_f is None:
            states.append(h)
        else:
            ys.append((h * Cs[t]).sum(-1))
    if C_f is None:
        out = torch.stack(states, dim=-1) if length else h.new_zeros(batch, channels, A.shape[1], 0)
        return (out.to(out_dtype), h) if return_last_state else out.to(out_dtype)
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + u_f * D.float()[None, :, None]
    if z is not None:
        y = y * F.silu(z.float())
    y = y.to(out_dtype)
    return (y, h) if return_last_state else y


def selective_scan_ref_pair(*args, **kwargs) -> Tuple[torch.Tensor, torch.Tensor]:
    """``selective_scan_ref`` that always returns ``(out, last_state)``."""
    return selective_scan_ref(*args, return_last_state=True, **kwargs)
