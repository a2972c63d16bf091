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
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F

CHUNK = 16  # tokens per chunk; 16 keeps ~40 nodes per level and 2-3 levels for L up to 3136 (EXPORT.md)


def _softplus(x: torch.Tensor) -> torch.Tensor:
    """softplus as relu(x) + log(1 + e^{-|x|}): exp argument ≤ 0, and five elementwise ONNX ops that onnxruntime
    vectorises (its own Softplus kernel measured ~4x slower than this on CPU)."""
    return torch.relu(x) + torch.log(1.0 + torch.exp(-torch.abs(x)))


def _chunked(t: torch.Tensor, shape: tuple, pad: int) -> torch.Tensor:
    """(..., L) → ``shape`` (..., n_chunks, steps), padding the end: token t of chunk c at [..., c, t]."""
    if pad:  # padded tokens: Δ = 0 (decay 1) and no input, so they change nothing before them
        t = F.pad(t, (0, pad))
    return t.reshape(shape)


def _recurrence(decays, inputs, h: Optional[torch.Tensor],
                keep: bool) -> Tuple[torch.Tensor, List[torch.Tensor]]:
    """h ← a_t·h + x_t over the unrolled steps (h=None: zero start); returns the final h and, if ``keep``, all."""
    outs = []
    for a_t, x_t in zip(decays, inputs):
        h = x_t if h is None else a_t * h + x_t
        if keep:
            outs.append(h)
    return h, outs


class _Lazy:
    """Sequence whose item t is computed on each access (graph nodes are traced per use, nothing is stored)."""

    def __init__(self, fn, length: int):
        self.fn, self.length = fn, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, t: int) -> torch.Tensor:
        return self.fn(t)

    def __iter__(self):
        return (self.fn(t) for t in range(self.length))


def linear_scan(loga: torch.Tensor, x: torch.Tensor, chunk: int = CHUNK) -> torch.Tensor:
    """``h_t = exp(loga_t)·h_{t-1} + x_t`` along the last axis of (M, L) tensors, h_{-1} = 0; needs loga ≤ 0."""
    length = x.shape[-1]
    steps = min(chunk, length)
    n_chunks = math.ceil(length / steps)
    pad = n_chunks * steps - length
    shape = (-1, n_chunks, steps)
    loga = _chunked(loga, shape, pad)
    decays = torch.split(torch.exp(loga), 1, dim=-1)
    inputs = torch.split(_chunked(x, shape, pad), 1, dim=-1)
    h = None
    if n_chunks > 1:
        ends, _ = _recurrence(decays, inputs, None, keep=False)  # chunk-end states from a zero start
        carry = linear_scan(loga.sum(-1), ends.reshape(-1, n_chunks), chunk)
        h = F.pad(carry[:, :-1], (1, 0)).unsqueeze(-1)  # true state entering each chunk
    _, outs = _recurrence(decays, inputs, h, keep=True)
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
    # (b, G, D/G, N, n_chunks, T): channel d = group · D/G + j, as in kernels.ref.expand_groups
    dt6 = _chunked(dt.reshape(-1, groups, per_group, 1, length), (-1, groups, per_group, 1, n_chunks, steps), pad)
    dtu6 = _chunked((dt * u_f).reshape(-1, groups, per_group, 1, length), (-1, groups, per_group, 1, n_chunks, steps), pad)
    B6 = _chunked(B.float().reshape(-1, groups, 1, state, length), (-1, groups, 1, state, n_chunks, steps), pad)
    A6 = A.float().reshape(groups, per_group, state, 1, 1)  # ≤ 0
    if state == 1:  # whole-tensor decays and inputs, split per step: fewest nodes, tensors the size of u
        decays = torch.split(torch.exp(dt6 * A6), 1, dim=-1)  # one (b, G, D/G, N, n_chunks, 1) tensor per step
        inputs = torch.split(dtu6 * B6, 1, dim=-1)
    else:  # N > 1: per step from the N-times smaller Δ, Δu, B slices; no N-times larger tensor is materialised
        decays = _Lazy(lambda t: torch.exp(dt_s[t] * A6), steps)
        inputs = _Lazy(lambda t: dtu_s[t] * B_s[t], steps)
        dt_s, dtu_s, B_s = (torch.split(t, 1, dim=-1) for t in (dt6, dtu6, B6))
    h = None
    if n_chunks > 1:
        ends, _ = _recurrence(decays, inputs, None, keep=False)  # chunk-end states from a zero start
        chunk_loga = (dt6.sum(-1) * A6.squeeze(-1)).reshape(-1, n_chunks)  # log-decay over a whole chunk, ≤ 0
        carry = linear_scan(chunk_loga, ends.reshape(-1, n_chunks), chunk)
        h = F.pad(carry[:, :-1], (1, 0)).reshape(-1, groups, per_group, state, n_chunks, 1)  # state entering chunks
    final = steps - 1 - pad  # the last real token is step `final` of the last chunk
    _, hs = _recurrence(decays, inputs, h, keep=True)
    last = hs[final][..., -1, 0].reshape(-1, channels, state)
    if C is None:
        out = torch.cat(hs, dim=-1).reshape(-1, channels, state, n_chunks * steps)
    else:
        C6 = _chunked(C.float().reshape(-1, groups, 1, state, length), (-1, groups, 1, state, n_chunks, steps), pad)
        Cs = torch.split(C6, 1, dim=-1)
        # d_state 1: the contraction over N is a product (the N axis is reshaped away below)
        ys = [h_t * c_t if state == 1 else (h_t * c_t).sum(3) for h_t, c_t in zip(hs, Cs)]
        out = torch.cat(ys, dim=-1).reshape(-1, channels, n_chunks * steps)
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
