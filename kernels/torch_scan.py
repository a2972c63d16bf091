"""Vectorised PyTorch selective scan (any device): chunked closed-form scan, channel blocks, recompute backward.

* Channels are processed in blocks of about ``BLOCK_ELEMS`` elements so a block's temporaries stay in cache;
  a block holds whole B/C groups or lies inside one group of each, so group gradient sums are reshape-sums.
* Inside chunks of T ≈ 16 tokens the recurrence is solved in closed form from two ``cumsum`` passes on base-2
  log-decays: ``c = cumsum(Δ·A·log2 e)``, ``h_t = 2^{c_t}·Σ_{s≤t} 2^{-c_s}·x_s``. Chunk-end states are carried
  across the L/T chunks (``_carry_scan``: float64 closed form, or a doubling scan where it would leave float64's
  range) and added back with one ``addcmul``. ``PRIMITIVE = "pairwise"`` selects the pairwise (Blelloch-style)
  reduction over all L tokens instead.
* Stability: in-chunk factors are ``2^{±c}`` with |c| ≤ ``MAX_CHUNK_LOG``·log2 e. Chunks whose log-decay sum
  exceeds that are detected on every call and redone with the pairwise reduction, which only multiplies decays.
* The backward recomputes the states per channel block (nothing of size N·L is kept between passes) and runs
  the adjoint ``g_t = a_{t+1}·g_{t+1} + C_t·dy_t`` with the mirrored chunk formula. N = 1 training keeps Δ, the
  states and the in-chunk decays from the forward instead (``VISIONSSM_SCAN_KEEP``).
* On CPU softplus is ``_softplus_log2`` (exp2/log2 only; some torch builds run softplus through scalar libm, 7x
  slower), or torch's with ``VISIONSSM_SOFTPLUS=torch``.

Measurements behind these choices: ``kernels/BENCHMARKS.md``.
"""
import math
import os
from typing import Optional

import torch
import torch.nn.functional as F

from ._common import LOG2E, cast_grads, group_span, regroup, sum_to_groups, will_backward

# (batch·channels·N·L) elements per channel block: small enough that a block's ~10 temporaries stay in cache
# (1 MB each); 4x larger or smaller blocks measured 1.2-2.5x slower (BENCHMARKS.md)
BLOCK_ELEMS = 1 << 18
MIN_BLOCK_CHANNELS = 4  # long N = 16 rows: fewer, larger blocks beat the Python overhead of 1-2 channel blocks
PRIMITIVE = "chunk"  # or "pairwise": the all-L pairwise reduction (slower; kept for tests and comparison)
MAX_CHUNK_LOG = 50.0  # largest |Σ Δ·A| inside one chunk for the closed form (e^50 ≈ 5e21, far from overflow)
# log-decays are carried in base 2 (Δ·A·log2 e) so every decay is one exp2: torch's float32 exp2 measured ~4x
# faster than exp on CPU (AVX-512), and e^{c_t - c_s} = 2^{c2_t - c2_s} keeps the cumulative sum's rounding
_MAX_CHUNK_LOG2 = MAX_CHUNK_LOG * LOG2E


class _Workspace:
    """Float32 buffers reused by every channel block of one call, one per role: a fresh multi-MB tensor per
    block page-faults on first touch, which measured 2-5x the cost of the cheap op writing it."""

    def __init__(self, device):
        self.device, self.bufs = device, {}
        self.pinned = {}  # name -> tensor to use once instead of the buffer (results the caller keeps)

    def get(self, name: str, shape) -> torch.Tensor:
        if name in self.pinned:
            return self.pinned.pop(name).view(shape)
        numel = math.prod(shape)
        buf = self.bufs.get(name)
        if buf is None or buf.numel() < numel:
            buf = self.bufs[name] = torch.empty(numel, dtype=torch.float32, device=self.device)
        return buf[:numel].view(shape)


LN2 = math.log(2.0)


def _softplus_log2(x: torch.Tensor, ws: _Workspace, out: torch.Tensor) -> torch.Tensor:
    """softplus(x) = max(x, 0) + log1p(e^{-|x|}) from exp2 and log2 only, into ``out``.

    log1p(t) = ln(u) + (t - (u - 1)) / u with u = fl(1 + t): the second term restores what rounding 1 + t lost
    (exact when u rounds to 1). Some torch CPU builds run log1p (hence softplus) through scalar libm: 10 ns per
    element measured on one 2-core AMD EPYC VM, where this version took 1.7 ns (7x). Max relative error vs float64:
    4e-7 for |x| ≤ 5, growing to 2e-6 at x = -40 (the rounding of -|x|·log2 e inside exp2).
    """
    t = torch.abs(x, out=ws.get("sp_t", x.shape)).mul_(-LOG2E).exp2_()
    u = torch.add(t, 1.0, out=ws.get("sp_u", x.shape))
    log_u = torch.log2(u, out=ws.get("sp_l", x.shape))
    t.sub_(torch.sub(u, 1.0, out=ws.get("sp_d", x.shape))).div_(u)
    torch.clamp(x, min=0, out=out)
    return out.add_(log_u, alpha=LN2).add_(t)


def _softplus_torch(x: torch.Tensor, ws: _Workspace, out: torch.Tensor) -> torch.Tensor:
    return torch._C._nn.softplus(x, 1, 20, out=out)


_SOFTPLUS = {"torch": _softplus_torch, "log2": _softplus_log2}
_softplus_choice: Optional[str] = None  # for CPU tensors; other devices use torch's (one fused kernel)


def _softplus(x: torch.Tensor, ws: _Workspace, out: torch.Tensor) -> torch.Tensor:
    """On CPU ``_softplus_log2`` unless ``VISIONSSM_SOFTPLUS=torch`` (read once per process). A fixed choice, not a
    timed one: the two agree only to ~1e-6 relative, and the same input must give the same output in every run."""
    global _softplus_choice
    if x.device.type != "cpu":
        return _softplus_torch(x, ws, out)
    if _softplus_choice is None:
        choice = os.environ.get("VISIONSSM_SOFTPLUS") or "log2"
        if choice not in _SOFTPLUS:
            raise ValueError(f"VISIONSSM_SOFTPLUS={choice!r}: choose one of {sorted(_SOFTPLUS)}")
        _softplus_choice = choice
    return _SOFTPLUS[_softplus_choice](x, ws, out)


def _scan(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Linear recurrence along the last dim: ``h_t = a_t·h_{t-1} + x_t`` with ``h_{-1} = 0``.

    Work-efficient pairwise (Blelloch-style) reduction: combine neighbours ``(a0, x0), (a1, x1) →
    (a0·a1, a1·x0 + x1)``, scan the half-length sequence recursively, then fill in the even positions.
    log2(L) levels of a few element-wise ops on shrinking tensors: O(E) work, no loop over tokens, no
    division, and decays are products of values in [0, 1] (they can only underflow to 0).
    """
    length = x.shape[-1]
    if length == 1:
        return x.clone()
    if length % 2:
        a = F.pad(a, (0, 1), value=1.0)
        x = F.pad(x, (0, 1))
    a0, a1 = a[..., 0::2], a[..., 1::2]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    odd = _scan(a0 * a1, torch.addcmul(x1, a1, x0))  # h at positions 1, 3, 5, ...
    h = torch.empty_like(x)
    h[..., 1::2] = odd
    h[..., 0] = x0[..., 0]
    h[..., 2::2] = torch.addcmul(x0[..., 1:], a0[..., 1:], odd[..., :-1])
    return h[..., :length] if length % 2 else h


def _scan_doubling(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``_scan`` by recursive doubling (Hillis-Steele): log2(L) levels of two in-place ops. O(L log L) work, but
    for the short chunk-carry sequences (L/16 elements) Python overhead dominates: 2x faster than ``_scan`` there.
    Like ``_scan`` it only multiplies decays (no division)."""
    length, step = x.shape[-1], 1
    h, a = x.clone(), a.clone()
    while step < length:
        h[..., step:].addcmul_(a[..., step:], h[..., :-step].clone())
        if 2 * step < length:
            a[..., step:].mul_(a[..., :-step].clone())
        step *= 2
    return h


def _scan_reverse(a_next: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Reverse recurrence ``g_t = a_next_t·g_{t+1} + q_t`` with ``g_L = 0`` (the adjoint scan).

    The mirror image of ``_scan``: pair (2i, 2i+1) from the right, scan the even positions recursively,
    then fill in the odd ones. No flips (copies) needed.
    """
    length = q.shape[-1]
    if length == 1:
        return q.clone()
    if length % 2:
        a_next = F.pad(a_next, (0, 1), value=1.0)
        q = F.pad(q, (0, 1))
    a0, a1 = a_next[..., 0::2], a_next[..., 1::2]
    q0, q1 = q[..., 0::2], q[..., 1::2]
    even = _scan_reverse(a0 * a1, torch.addcmul(q0, a0, q1))  # g at positions 0, 2, 4, ...
    g = torch.empty_like(q)
    g[..., 0::2] = even
    g[..., -1] = q1[..., -1]
    g[..., 1:-1:2] = torch.addcmul(q1[..., :-1], a1[..., :-1], even[..., 1:])
    return g[..., :length] if length % 2 else g


CARRY = "closed"  # or "doubling": how chunk carries are scanned (for comparison)
# float64 exponents reach ±1022; carries reach 2^128 (float32's range), so |cumulative log2-decay| ≤ 600 is safe
_CARRY_MAX_LOG2 = 600.0


def _carry_scan(log_decay: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``H_k = 2^{log_decay_k}·H_{k-1} + x_k`` over the chunks (L/T elements; ``log_decay`` float64 log2).

    Closed form in float64: ``H_k = 2^{S_k}·Σ_{j≤k} 2^{-S_j}·x_j`` with ``S = cumsum(log_decay)``; about 8 ops in
    all where the doubling scan costs ~18 per level (8 levels at L = 3136): Python and dispatch overhead is most
    of the carry's cost. Rounding: float64 sums of at most L/T terms, then one rounding to float32. Where |S|
    exceeds ``_CARRY_MAX_LOG2`` (very strong total decay or growth), the doubling scan (decay products only).
    """
    S = log_decay.cumsum(-1)
    if CARRY != "closed" or float(S.abs().amax()) > _CARRY_MAX_LOG2:
        return _scan_doubling(log_decay.exp2().float(), x)
    return torch.exp2(-S).mul_(x.double()).cumsum_(-1).mul_(S.exp2_()).float()


def _carry_scan_reverse(decay: torch.Tensor, q: torch.Tensor, exact_log: bool) -> torch.Tensor:
    """``Y_k = decay_k·Y_{k+1} + q_k`` over the chunks (the adjoint's carry), closed form in float64 like
    ``_carry_scan``: ``Y_k = 2^{-P_k}·Σ_{j≥k} 2^{P_j}·q_j`` with ``P`` the exclusive prefix sum of log2 decays.
    ``exact_log=False`` (strong-decay chunks present: a decay may have underflowed to 0) takes the doubling scan."""
    if CARRY == "closed" and exact_log:
        ld = decay.double().log2_()
        P = ld.cumsum(-1).sub_(ld)  # exclusive prefix sums
        if float(P.abs().amax()) <= _CARRY_MAX_LOG2:
            t = torch.exp2(P).mul_(q.double()).flip(-1).cumsum_(-1).flip(-1)
            return t.mul_(P.neg_().exp2_()).float()
    return _scan_doubling(decay.flip(-1), q.flip(-1)).flip(-1)


def _chunk_len(length: int) -> int:
    """Tokens per chunk: a divisor of L near 16 (no padding) when one lies in [8, 64], else 16; L ≤ 64: one chunk."""
    if length <= 64:
        return length
    divisors = [t for t in range(8, 65) if length % t == 0]
    return min(divisors, key=lambda t: abs(t - 16)) if divisors else 16


def _chunk_scan(la: torch.Tensor, x: torch.Tensor, nonpos: bool, ws: Optional[_Workspace] = None):
    """``h_t = 2^{la_t}·h_{t-1} + x_t`` (base-2 log-decays) along the last dim, in closed form inside chunks.

    Returns ``(h, aux)``; ``aux`` (the in-chunk ``e = 2^{cumsum(la)}`` and friends) feeds
    ``_chunk_scan_reverse``. Chunks whose |cumsum| exceeds ``MAX_CHUNK_LOG`` (strong decays, where
    ``e^{-c}`` could overflow) are redone with the pairwise reduction; ``nonpos`` (all la ≤ 0, so c is
    monotone) lets that check read only the chunk ends.
    """
    length = x.shape[-1]
    chunk = _chunk_len(length)
    pad = (-length) % chunk
    if pad:  # zero log-decay and zero input after the end leave h unchanged
        la, x = F.pad(la, (0, pad)), F.pad(x, (0, pad))
    shape = x.shape[:-1] + (x.shape[-1] // chunk, chunk)
    la = la.reshape(shape)
    c = torch.cumsum(la, -1, out=ws.get("c", shape)) if ws is not None else la.cumsum(-1)
    if nonpos:
        bad = c[..., -1] < -_MAX_CHUNK_LOG2
    else:
        lo, hi = torch.aminmax(c, dim=-1)
        bad = (lo < -_MAX_CHUNK_LOG2) | (hi > _MAX_CHUNK_LOG2)
    bad = bad.reshape(-1).nonzero().squeeze(1) if bool(bad.any()) else None
    c_end = c[..., -1].double() if shape[-2] > 1 else None  # chunk log-decays for the carry, before exp2
    e = c.exp2_()
    h = torch.div(x.reshape(shape), e, out=ws.get("h", shape)) if ws is not None else torch.div(x.reshape(shape), e)
    h = h.cumsum_(-1).mul_(e)
    if bad is not None:  # local states of the strong-decay chunks: products of decays only
        # h may be a batch-strided view of a kept tensor: index it as (batch, rows, chunk)
        rows = h.view(h.shape[0], -1, chunk)
        rows[bad // rows.shape[1], bad % rows.shape[1]] = _scan(la.reshape(-1, chunk)[bad].exp2(),
                                                               x.reshape(-1, chunk)[bad])
    if shape[-2] > 1:  # carry chunk-end states: H_k = E_k·H_{k-1} + h_k,end with E_k the chunk's total decay
        carry = _carry_scan(c_end, h[..., -1])
        h[..., 1:, :].addcmul_(e[..., 1:, :], carry[..., :-1, None])
    h = h.reshape(x.shape)
    return (h[..., :length] if pad else h), (e, la, bad, pad)


_SUFFIX = {}


def _suffix_sum(x: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``Σ_{s≥t} x_s`` along the last (short, chunk-sized) dim as one matrix product with a lower-triangular
    ones matrix: 6x faster on CPU than ``flip → cumsum → flip`` (two copies), and it can write into ``out``."""
    chunk = x.shape[-1]
    key = (chunk, x.device, x.dtype)
    tri = _SUFFIX.get(key)
    if tri is None:
        tri = _SUFFIX[key] = torch.ones(chunk, chunk, device=x.device, dtype=x.dtype).tril_()
    flat = x.reshape(-1, chunk)
    res = torch.mm(flat, tri, out=out.view(-1, chunk)) if out is not None else torch.mm(flat, tri)
    return res.view(x.shape)


def _chunk_scan_reverse(aux, q: torch.Tensor, ws: Optional[_Workspace] = None) -> torch.Tensor:
    """Adjoint of ``_chunk_scan``: ``g_t = 2^{la_{t+1}}·g_{t+1} + q_t``, i.e. in chunk
    ``g_t = e_t^{-1}·Σ_{s≥t} e_s·q_s`` plus the carry from the chunks to the right."""
    e, la, bad, pad = aux
    length, chunk = q.shape[-1], e.shape[-1]
    if pad:
        q = F.pad(q, (0, pad))
    if ws is not None:
        eq = torch.mul(e, q.reshape(e.shape), out=ws.get("eq", e.shape))
        r = _suffix_sum(eq, out=ws.get("r", e.shape))
    else:
        r = _suffix_sum(torch.mul(e, q.reshape(e.shape)))
    carry = None
    if e.shape[-2] > 1:  # Y_k = S_k + E_k·Y_{k+1}: adjoint mass entering chunk k-1 from the right
        carry = _carry_scan_reverse(e[..., -1], r[..., 0], exact_log=bad is None)
        carry = F.pad(carry[..., 1:], (0, 1))  # Y_{k+1}, zero after the last chunk
        r.addcmul_(e[..., -1:], carry[..., None])
    g = r.div_(e)
    if bad is not None:  # strong-decay chunks: pairwise reverse scan plus 2^{c_end - c_t}·Y_{k+1}
        la_b = la.reshape(-1, chunk)[bad]
        g_b = _scan_reverse(F.pad(la_b[:, 1:].exp2(), (0, 1), value=1.0), q.reshape(-1, chunk)[bad])
        if carry is not None:
            c_b = la_b.cumsum(-1)
            g_b.addcmul_((c_b[:, -1:] - c_b).exp2_(), carry.reshape(-1)[bad, None])
        g.view(-1, chunk)[bad] = g_b
    g = g.reshape(q.shape)
    return g[..., :length] if pad else g


def _scan_fwd(la: torch.Tensor, x: torch.Tensor, nonpos: bool, ws: Optional[_Workspace] = None):
    """Forward recurrence with decays ``2^la``; returns ``(h, aux)`` for ``_scan_bwd``."""
    if PRIMITIVE == "pairwise":
        a = la.exp2()
        return _scan(a, x), (a,)
    return _chunk_scan(la, x, nonpos, ws)


def _scan_bwd(aux, q: torch.Tensor, ws: Optional[_Workspace] = None) -> torch.Tensor:
    """Adjoint recurrence ``g_t = 2^{la_{t+1}}·g_{t+1} + q_t`` for the ``aux`` of ``_scan_fwd``."""
    if len(aux) == 1:
        return _scan_reverse(F.pad(aux[0][..., 1:], (0, 1), value=1.0), q)
    return _chunk_scan_reverse(aux, q, ws)


def _sum_state(t: torch.Tensor) -> torch.Tensor:
    """Sum over the state dim (3) keeping it; free for N = 1."""
    return t if t.shape[3] == 1 else t.sum(3, keepdim=True)


def _blocks(channels: int, cpg_b: int, cpg_c: int, per_channel: int, budget: int):
    """Channel blocks holding whole B and C groups, or lying inside one group of each (so group sums stay
    deterministic reshape-sums and no block straddles a group boundary)."""
    want = max(1, budget // max(per_channel, 1))
    whole = cpg_b * cpg_c // math.gcd(cpg_b, cpg_c)
    if want >= whole:
        size = max(whole, (min(want, channels) // whole) * whole)
    else:
        inner = math.gcd(cpg_b, cpg_c)
        size = max(d for d in range(1, min(want, inner) + 1) if inner % d == 0)
    return [(d0, min(d0 + size, channels)) for d0 in range(0, channels, size)]


class _Prep:
    """Float32 views of the inputs for one channel block, laid out (batch, ng, cblk, N|1, L)."""

    def __init__(self, u, delta, A, B, C, D, z, delta_bias, delta_softplus):
        self.batch, self.channels, self.length = u.shape
        self.state = A.shape[1]
        self.cpg_b = self.channels // B.shape[1] if B.dim() == 4 else self.channels
        self.cpg_c = self.channels // C.shape[1] if (C is not None and C.dim() == 4) else self.channels
        self.cpg = math.gcd(self.cpg_b, self.cpg_c)
        self.u, self.delta, self.A, self.B, self.C, self.D, self.z, self.bias = u, delta, A, B, C, D, z, delta_bias
        self.softplus = delta_softplus
        # Δ·A ≤ 0 everywhere (Δ = softplus(·) > 0 and A ≤ 0): in-chunk log-decay sums are monotone
        self.nonpos = bool(delta_softplus) and bool((A <= 0).all())

    def blocks(self):
        # N = 1 has fewer temporaries of full size per block: twice the elements measured fastest
        per_channel = self.batch * self.state * self.length
        budget = max(BLOCK_ELEMS if self.state > 1 else 2 * BLOCK_ELEMS, MIN_BLOCK_CHANNELS * per_channel)
        return _blocks(self.channels, self.cpg_b, self.cpg_c, per_channel, budget)

    def _bc(self, t, cpg_t, d0, d1, ng):
        """(b, ng|1, 1, N, L) view of B or C for channels [d0, d1) split in ng groups of equal size."""
        if t.dim() == 3:
            return t.float()[:, None, None]
        g0, g1 = group_span(d0, d1, cpg_t)
        return regroup(t[:, g0:g1].float(), ng)[:, :, None]

    def block(self, d0, d1, ws: Optional[_Workspace] = None, dt_saved: Optional[torch.Tensor] = None):
        b, n = self.batch, self.state
        size = d1 - d0
        cblk = min(size, self.cpg)
        ng = size // cblk

        def chan(t):
            return t[:, d0:d1].float().reshape(b, ng, cblk, 1, -1)

        u = chan(self.u)
        pre = chan(self.delta)
        if self.bias is not None:
            bias = self.bias[d0:d1].float().reshape(1, ng, cblk, 1, 1)
            pre = torch.add(pre, bias, out=ws.get("pre", pre.shape)) if ws is not None else pre + bias
        if dt_saved is not None:
            dt = dt_saved[:, d0:d1].reshape(pre.shape)
        elif self.softplus:
            dt = _softplus(pre, ws, ws.get("dt", pre.shape)) if ws is not None else F.softplus(pre)
        else:
            dt = pre
        A = self.A[d0:d1].float().reshape(ng, cblk, n, 1)
        B = self._bc(self.B, self.cpg_b, d0, d1, ng)
        C = self._bc(self.C, self.cpg_c, d0, d1, ng) if self.C is not None else None
        return u, pre, dt, A, B, C, ng, cblk


def _accumulate_group(dst: torch.Tensor, part: torch.Tensor, cpg: int, d0: int, d1: int):
    """Add a block's (b, ng, N, L) gradient of B or C into ``dst`` (b, N, L) or (b, G, N, L)."""
    if dst.dim() == 3:
        dst += part.sum(1)
        return
    g0, g1 = group_span(d0, d1, cpg)
    dst[:, g0:g1] += sum_to_groups(part, g1 - g0, 4)


def _forward_block(p: _Prep, d0: int, d1: int, ws: Optional[_Workspace] = None,
                   dt_saved: Optional[torch.Tensor] = None):
    u, pre, dt, A, B, C, ng, cblk = p.block(d0, d1, ws, dt_saved)
    state_shape = dt.shape[:3] + (p.state, p.length)
    if ws is None:
        w = dt * u  # (b, ng, cblk, 1, L)
        x = w * B  # (b, ng, cblk, N, L)
        la = dt * (A * LOG2E)
    else:
        w = torch.mul(dt, u, out=ws.get("w", dt.shape))
        x = torch.mul(w, B, out=ws.get("x", state_shape))
        la = torch.mul(dt, A * LOG2E, out=ws.get("la", state_shape))
    h, aux = _scan_fwd(la, x, p.nonpos, ws)  # base-2 log-decays
    return h, (u, pre, dt, A, B, C, ng, cblk, w, x, aux)


# N = 1 training: what the forward keeps for the backward. "all" (Δ, h, e: 3 tensors of u's size; fwd+bwd of the
# op ~25% faster, a vmamba_tiny_s1l8 training step 5% faster for +39% peak memory at batch 4), "delta" (Δ only)
# or "none" (recompute everything, least memory). Set with VISIONSSM_SCAN_KEEP.
KEEP_FORWARD_N1 = os.environ.get("VISIONSSM_SCAN_KEEP", "all")
if KEEP_FORWARD_N1 not in ("all", "delta", "none"):
    raise ValueError(f"VISIONSSM_SCAN_KEEP={KEEP_FORWARD_N1!r}: choose 'all', 'delta' or 'none'")


class _Kept:
    """What the N = 1 forward keeps for the backward: Δ, the states h and the in-chunk decays e = 2^{cumsum}
    (padded to whole chunks), each (batch, D, L); plus, per block, the strong-decay chunks' indices."""

    def __init__(self, b: int, channels: int, length: int, device):
        chunk = _chunk_len(length)
        self.padded = length + (-length) % chunk
        self.chunk = chunk
        self.all = KEEP_FORWARD_N1 == "all"
        self.dt = torch.empty(b, channels, length, device=device)
        if self.all:
            self.h = torch.empty(b, channels, length, device=device)
            self.e = torch.empty(b, channels, self.padded, device=device)
        self.bad = {}

    def pin(self, ws: _Workspace, d0: int, d1: int):
        """Let the next block's forward write Δ, h and e straight into the kept tensors (no copy pass)."""
        ws.pinned = {"dt": self.dt[:, d0:d1]}
        if self.all and self.padded == self.h.shape[-1]:
            ws.pinned.update(h=self.h[:, d0:d1], c=self.e[:, d0:d1])

    def store(self, d0: int, d1: int, h, dt, aux):
        b, sz = h.shape[0], d1 - d0
        e, _, bad, _ = aux
        for kept, got in ((self.dt, dt), (self.h, h), (self.e, e)) if self.all else ((self.dt, dt),):
            if got.data_ptr() != kept[:, d0:d1].data_ptr():  # not written in place (padded L, or no softplus)
                kept[:, d0:d1] = got.reshape(b, sz, -1)
        self.bad[d0] = bad

    def block(self, p: "_Prep", d0: int, d1: int, ws: _Workspace):
        """``_forward_block``'s results for one block, rebuilt from what was kept (two multiplies, no scan)."""
        if not self.all:
            return _forward_block(p, d0, d1, ws, self.dt)
        u, pre, dt, A, B, C, ng, cblk = p.block(d0, d1, ws, dt_saved=self.dt)
        h = self.h[:, d0:d1].reshape(dt.shape)
        w = torch.mul(dt, u, out=ws.get("w", dt.shape))
        x = torch.mul(w, B, out=ws.get("x", dt.shape))
        e = self.e[:, d0:d1].reshape(dt.shape[:-1] + (self.padded // self.chunk, self.chunk))
        bad, pad = self.bad[d0], self.padded - p.length
        la = None
        if bad is not None:  # only the strong-decay chunks' pairwise redo reads the log-decays
            la = F.pad(dt * (A * LOG2E), (0, pad)).reshape(e.shape)
        return h, (u, pre, dt, A, B, C, ng, cblk, w, x, (e, la, bad, pad))


class _SelectiveScanFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus, out_dtype, training):
        p = _Prep(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
        b, ch, n, L = p.batch, p.channels, p.state, p.length
        dev = u.device
        if C is None:
            out = torch.empty(b, ch, n, L, device=dev, dtype=out_dtype)
        else:
            out = torch.empty(b, ch, L, device=dev, dtype=out_dtype)
        last = torch.empty(b, ch, n, device=dev, dtype=torch.float32)
        ws = _Workspace(dev)
        # N = 1 training: keep Δ, the states and the in-chunk decays (3 tensors of u's size) so the backward
        # skips recomputing the forward, ~30% of fwd+bwd; for N > 1 they would be N times larger: recompute.
        keep = n == 1 and C is not None and PRIMITIVE == "chunk" and training and KEEP_FORWARD_N1 != "none"
        kept = _Kept(b, ch, L, dev) if keep else None
        for d0, d1 in p.blocks():
            if kept is not None:
                kept.pin(ws, d0, d1)
            h, (u_f, _, dt_f, _, _, C_f, ng, cblk, _, _, aux) = _forward_block(p, d0, d1, ws)
            if kept is not None:
                ws.pinned = {}
                kept.store(d0, d1, h, dt_f, aux)
            last[:, d0:d1] = h[..., -1].reshape(b, d1 - d0, n)
            if C is None:
                out[:, d0:d1] = h.reshape(b, d1 - d0, n, L)
                continue
            direct = n == 1 and out.dtype == torch.float32
            if direct:  # write y straight into the output: saves a copy pass
                y = torch.mul(h, C_f, out=out[:, d0:d1].view(b, ng, cblk, 1, L))
            else:
                y = _sum_state(h.mul_(C_f))  # h is not needed after this
            if D is not None:
                y.addcmul_(u_f, D[d0:d1].float().reshape(1, ng, cblk, 1, 1))
            if z is not None:
                y.mul_(F.silu(z[:, d0:d1].float().reshape(b, ng, cblk, 1, L)))
            if not direct:
                out[:, d0:d1] = y.reshape(b, d1 - d0, L)
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias)
        ctx.kept = kept
        ctx.delta_softplus = delta_softplus
        ctx.set_materialize_grads(False)
        return out, last

    @staticmethod
    def backward(ctx, dout, dlast):
        u, delta, A, B, C, D, z, delta_bias = ctx.saved_tensors
        p = _Prep(u, delta, A, B, C, D, z, delta_bias, ctx.delta_softplus)
        b, ch, n, L = p.batch, p.channels, p.state, p.length
        f32 = torch.float32
        du = torch.empty(b, ch, L, dtype=f32, device=u.device)
        ddelta = torch.empty_like(du)
        dA = torch.empty(ch, n, dtype=f32, device=u.device)
        dB = torch.zeros(B.shape, dtype=f32, device=u.device)
        dC = torch.zeros(C.shape, dtype=f32, device=u.device) if C is not None else None
        # with C=None the states are returned before D and z are applied: they get no gradient
        dD = torch.empty(ch, dtype=f32, device=u.device) if (D is not None and C is not None) else None
        dz = torch.empty(b, ch, L, dtype=f32, device=u.device) if (z is not None and C is not None) else None
        dbias = torch.empty(ch, dtype=f32, device=u.device) if delta_bias is not None else None
        if dout is None:
            dout = torch.zeros((b, ch, n, L) if C is None else (b, ch, L), dtype=f32, device=u.device)
        ws = _Workspace(u.device)
        kept, ctx.kept = ctx.kept, None
        for d0, d1 in p.blocks():
            if kept is not None:
                h, (u_f, pre, dt, A_f, B_f, C_f, ng, cblk, w, x, aux) = kept.block(p, d0, d1, ws)
            else:
                h, (u_f, pre, dt, A_f, B_f, C_f, ng, cblk, w, x, aux) = _forward_block(p, d0, d1, ws)
            sz = d1 - d0
            states = (b, ng, cblk, n, L)
            if C is None:
                q = dout[:, d0:d1].float().reshape(states)
                dy = None
            else:
                dy = dout[:, d0:d1].float().reshape(b, ng, cblk, 1, L)
                if z is not None:
                    zf = z[:, d0:d1].float().reshape(b, ng, cblk, 1, L)
                    y = _sum_state(h * C_f)
                    if D is not None:
                        y.addcmul_(u_f, D[d0:d1].float().reshape(1, ng, cblk, 1, 1))
                    sig = torch.sigmoid(zf)
                    dsilu = torch.mul(zf, sig)  # silu(z); silu'(z) = sig·(1 + z·(1 - sig)) = sig + silu(z)·(1 - sig)
                    dz[:, d0:d1] = (dy * y).mul_(torch.addcmul(sig, dsilu, 1 - sig)).reshape(b, sz, L)
                    dy = dy * dsilu
                # temporaries go to reused workspace buffers: fresh multi-MB tensors page-fault on first touch
                q = torch.mul(C_f, dy, out=ws.get("q", states))
                if D is not None:
                    dD[d0:d1] = torch.mul(dy, u_f, out=ws.get("tmp1", dy.shape)).sum((0, 3, 4)).reshape(sz)
            if dlast is not None:
                q = q.clone() if C is None else q
                q[..., -1] += dlast[:, d0:d1].float().reshape(b, ng, cblk, n)
            g = _scan_bwd(aux, q, ws)  # adjoint state (b, ng, cblk, N, L)
            if dC is not None:
                _accumulate_group(dC, torch.mul(h, dy, out=ws.get("tmpN", states)).sum(2), p.cpg_c, d0, d1)
            _accumulate_group(dB, torch.mul(g, w, out=ws.get("tmpN", states)).sum(2), p.cpg_b, d0, d1)
            if n == 1:
                gB = torch.mul(g, B_f, out=ws.get("gB", states))
            else:
                gB = torch.mul(g, B_f, out=ws.get("tmpN", states)).sum(3, keepdim=True)
            du_blk = torch.mul(gB, dt, out=du[:, d0:d1].view(b, ng, cblk, 1, L))  # written in place
            if dD is not None:
                du_blk.addcmul_(dy, D[d0:d1].float().reshape(1, ng, cblk, 1, 1))
            dla = g.mul_(h.sub_(x))  # d/d(Δ·A) = g_t · a_t · h_{t-1}; g and h are not needed after this
            dA[d0:d1] = torch.mul(dla, dt, out=ws.get("tmpN", states)).sum((0, 4)).reshape(sz, n)
            ddt = torch.mul(gB, u_f, out=ddelta[:, d0:d1].view(b, ng, cblk, 1, L))
            ddt.add_(_sum_state(dla.mul_(A_f)))
            if ctx.delta_softplus:
                ddt.mul_(torch.sigmoid(pre, out=ws.get("sig", pre.shape)))
            if dbias is not None:
                dbias[d0:d1] = ddt.sum((0, 3, 4)).reshape(sz)
        return cast_grads((du, ddelta, dA, dB, dC, dD, dz, dbias), (u, delta, A, B, C, D, z, delta_bias)) + (None,) * 3


def selective_scan_torch(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                         return_last_state=False, out_dtype=None):
    """Selective scan with the semantics of ``kernels/ref.py``, vectorised (no loop over tokens).

    Accumulates in float32; returns ``out_dtype`` (default ``u.dtype``), plus the float32 last state
    (batch, D, N) when ``return_last_state``. ``C=None`` returns the states (batch, D, N, L).
    """
    out_dtype = out_dtype or u.dtype
    out, last = _SelectiveScanFn.apply(u, delta, A, B, C, D, z, delta_bias, bool(delta_softplus), out_dtype,
                                       will_backward(u, delta, A, B, C, D, z, delta_bias))
    return (out, last) if return_last_state else out
