"""Selective scan written in standard ONNX-exportable PyTorch ops: the ``export`` backend.

Why this form (measurements in benchmarks/EXPORT.md): the recurrence ``h_t = a_t·h_{t-1} + x_t`` is solved by a
two-level chunked scan. The L tokens are cut into chunks of ``T``; inside every chunk the T steps are unrolled and
run for all chunks at once (one Split, 2 nodes per step, one Concat); the chunk-end states are then carried across
the chunks by the same procedure applied to the sequence of chunks (recursively, until it fits in one chunk), and
added back as ``exp(cumsum_within_chunk(Δ·A))·carry``. The graph holds a few dozen nodes per scan whatever L is,
has no ONNX ``Loop`` (onnxruntime runs a Loop body per token with a fixed per-iteration overhead), and needs no
T×T segment-sum matrix per (channel, state) (D·N·L·T floats: gigabytes at d_state 16).

Numerics: every ``exp`` takes a cumulative sum of Δ·A inside one chunk, or over one chunk, never a difference that
can grow positive: with A < 0 and Δ ≥ 0 each argument is ≤ 0, so nothing overflows whatever the decays; decays
only ever multiply, as in the sequential loop.

No data-dependent Python: shapes come from the inputs, the batch dimension stays symbolic under export.
"""
import math
from typing import List, Optional

import torch
import torch.nn.functional as F

CHUNK = 16  # tokens per chunk; 16 keeps ~40 nodes per level and 2-3 levels for L up to 3136 (EXPORT.md)


def _softplus(x: torch.Tensor) -> torch.Tensor:
    """softplus as relu(x) + log(1 + e^{-|x|}): exp argument ≤ 0, and five elementwise ONNX ops that onnxruntime
    vectorises (its own Softplus kernel measured ~4x slower than this on CPU)."""
    return torch.relu(x) + torch.log(1.0 + torch.exp(-torch.abs(x)))


def _chunked(t: torch.Tensor, steps: int, pad: int) -> List[torch.Tensor]:
    """(..., L) → ``steps`` tensors (..., n_chunks, 1): token t of every chunk (one Split node)."""
    if pad:  # padded tokens: Δ = 0 (decay 1) and no input, so they change nothing before them
        t = F.pad(t, (0, pad))
    t = t.reshape(*t.shape[:-1], -1, steps)
    return list(torch.split(t, 1, dim=-1))


def linear_scan(loga: torch.Tensor, x: torch.Tensor, chunk: int = CHUNK) -> torch.Tensor:
    """``h_t = exp(loga_t)·h_{t-1} + x_t`` along the last axis of (M, L) tensors, h_{-1} = 0; needs loga ≤ 0."""
    length = x.shape[-1]
    steps = min(chunk, length)
    n_chunks = math.ceil(length / steps)
    pad = n_chunks * steps - length
    decays = [torch.exp(a) for a in _chunked(loga, steps, pad)]
    inputs = _chunked(x, steps, pad)
    h = torch.zeros_like(inputs[0])
    if n_chunks > 1:
        h = inputs[0]
        for t in range(1, steps):
            h = decays[t] * h + inputs[t]  # chunk-end states from a zero start
        chunk_loga = F.pad(loga, (0, pad)).reshape(-1, n_chunks, steps).sum(-1)  # ≤ 0
        carry = linear_scan(chunk_loga, h.reshape(-1, n_chunks), chunk)
        h = F.pad(carry[:, :-1], (1, 0)).unsqueeze(-1)  # true state entering each chunk
    outs = []
    for t in range(steps):
        h = decays[t] * h + inputs[t]
        outs.append(h)
    out = torch.cat(outs, dim=-1).reshape(-1, n_chunks * steps)
    return out[:, :length] if pad else out


def selective_scan_export(
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
        chunk: int = CHUNK,
):
    """Same semantics as ``kernels.ref.selective_scan_ref`` (float32 inside), written for ONNX/torch.export."""
    out_dtype = out_dtype or u.dtype
    channels, length = u.shape[1], u.shape[2]
    state = A.shape[1]
    u_f, dt = u.float(), delta.float()
    if delta_bias is not None:
        dt = dt + delta_bias.float().unsqueeze(-1)
    if delta_softplus:
        dt = _softplus(dt)
    groups = B.shape[1] if B.dim() == 4 else 1
    per_group = channels // groups
    steps = min(chunk, length)
    n_chunks = math.ceil(length / steps)
    pad = n_chunks * steps - length
    # layout (b, G, D/G, N, n_chunks, 1) per step: channel d = group · D/G + j, as in kernels.ref.expand_groups
    dt5 = dt.reshape(-1, groups, per_group, 1, length)
    dts = _chunked(dt5, steps, pad)
    dtus = _chunked((dt * u_f).reshape(-1, groups, per_group, 1, length), steps, pad)
    Bs = _chunked(B.float().reshape(-1, groups, 1, state, length), steps, pad)
    A_c = A.float().reshape(groups, per_group, state, 1, 1)  # ≤ 0
    decays = [torch.exp(d_t * A_c) for d_t in dts]
    inputs = [x_t * b_t for x_t, b_t in zip(dtus, Bs)]
    h = torch.zeros_like(inputs[0])
    if n_chunks > 1:
        h = inputs[0]
        for t in range(1, steps):
            h = decays[t] * h + inputs[t]  # chunk-end states from a zero start
        chunk_dt = F.pad(dt5, (0, pad)).reshape(-1, groups, per_group, 1, n_chunks, steps).sum(-1)
        chunk_loga = (chunk_dt * A_c.squeeze(-1)).reshape(-1, n_chunks)  # log-decay over a whole chunk, ≤ 0
        carry = linear_scan(chunk_loga, h.reshape(-1, n_chunks), chunk)
        h = F.pad(carry[:, :-1], (1, 0)).reshape(h.shape)  # true state entering each chunk
    Cs = None if C is None else _chunked(C.float().reshape(-1, groups, 1, state, length), steps, pad)
    outs, final = [], steps - 1 - pad  # the last real token is step `final` of the last chunk
    last = h
    for t in range(steps):
        h = decays[t] * h + inputs[t]
        outs.append(h if Cs is None else (h * Cs[t]).sum(3))
        if t == final:
            last = h
    last = last[..., -1, 0].reshape(-1, channels, state)
    out = torch.cat(outs, dim=-1)  # (b, G, D/G, [N,] n_chunks, T)
    out = out.reshape(-1, channels, state, n_chunks * steps) if C is None else out.reshape(-1, channels, n_chunks * steps)
    if pad:
        out = out[..., :length]
    if C is None:
        out = out.to(out_dtype)
        return (out, last) if return_last_state else out
    y = out
    if D is not None:
        y = y + u_f * D.float().unsqueeze(-1)
    if z is not None:
        y = y * F.silu(z.float())
    y = y.to(out_dtype)
    return (y, last) if return_last_state else y
