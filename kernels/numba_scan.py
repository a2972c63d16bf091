"""Fused CPU selective scan: loops compiled by numba (LLVM) on first use, no C compiler.

The PyTorch path (``torch_scan.py``) solves the recurrence with ~24 whole-tensor passes per element, and with
d_state 16 every pass touches 16x the data; these loops read each input once and keep the state in cache (speed
ratios in ``kernels/BENCHMARKS.md``). First use compiles the four kernels; numba caches them on disk.

Two layouts:

* N ≥ 3, ``scan_fwd``/``scan_bwd`` ("lanes"): a program owns ``W`` channels of one batch element (``W`` lanes:
  every inner loop runs over them). It copies a tile of ``T`` tokens of u and δ into lane-major scratch and runs
  the recurrence token by token with the state (N × W) in L1. The forward stores the state at every tile start
  (``1/T`` of the states) when autograd needs it; the backward recomputes one tile from its checkpoint and runs
  the adjoint ``g_t = e^{Δ_{t+1}A}·g_{t+1} + C_t·dy_t`` back through it.
* N ≤ 2, ``scan_fwd_rows``/``scan_bwd_rows`` ("rows"): element-wise steps along each channel's contiguous row,
  one state at a time, only the two recurrences sequential (four rows interleaved); no transposes, no
  checkpoints.

``exp`` is an exp2 with a degree-6 polynomial (rel. error 2e-7) so that LLVM vectorises it (numba calls libm's
scalar ``expf`` otherwise); softplus and the bias on δ are applied inside and recomputed in the backward. B/C
gradients are summed over a program's channels and written per program (deterministic, no atomics), then
summed over the programs of a group by the caller.
"""
import os
import threading
import warnings
from typing import Optional

import numpy as np
import torch

from ._common import LOG2E, common_groups, num_groups, sum_to_groups, will_backward

try:
    import numba
    from llvmlite import ir
    from numba import njit, prange
    from numba.core import types
    from numba.extending import intrinsic
except ImportError:  # optional: selective_scan falls back to the PyTorch path
    numba = None

_forked = False  # set in children forked from this process (see _run)


def _mark_forked():
    global _forked
    _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark_forked)

TILE = 64  # tokens per tile (measured best of 16-256 for training); the forward checkpoints the state every tile
# channels per program: the largest that divides the channels of a B/C group. Wide programs amortise the per-row
# loop overhead: W = 64 ran the d_state-16 forward 1.5x and the backward 1.8x faster than W = 16 (one core).
LANES = (64, 32, 16, 8, 4, 2, 1)
# d_state up to this runs by rows (row-wise passes, one state at a time), larger by lanes. Measured (2 cores, batch 4,
# D 384 × L 3136 and D 1536 × L 196, fwd / fwd+bwd): rows 1.9-2.3x lanes at N = 1, 1.2-1.9x at N = 2, 1.0-1.8x at
# N = 3, 0.85-1.5x at N = 4, 0.6-1.3x at N = 8.
ROWS_MAX_STATE = 2

_LOCK = threading.Lock()  # numba's "workqueue" threading layer (its fallback) must not be entered from two threads


def numba_available() -> bool:
    """numba is importable and compiles (NUMBA_DISABLE_JIT=1 would run these loops as Python: never the default)."""
    return numba is not None and not numba.config.DISABLE_JIT


_compiles: Optional[bool] = None


def numba_compiles() -> bool:
    """Whether the kernels compile here: checked once per process by ``warmup`` (a failure warns and returns
    False, so ``auto`` falls back to the PyTorch path instead of failing inside a model)."""
    global _compiles
    if _compiles is None:
        try:
            warmup()
            _compiles = True
        except Exception as exc:  # any compiler/LLVM failure: fall back, say why
            warnings.warn(f"visionssm: the numba selective-scan kernels failed to compile ({type(exc).__name__}: "
                          f"{exc}); CPU scans use the PyTorch path. Set VISIONSSM_CPU_SCAN=torch to skip this check.",
                          RuntimeWarning, stacklevel=2)
            _compiles = False
    return _compiles


def lanes_for(channels: int, groups: int) -> int:
    per_group = channels // groups
    return next(w for w in LANES if per_group % w == 0)


if numba is not None:
    # error_model="numpy" everywhere: numba's default checks every float division for zero (to raise
    # ZeroDivisionError), a branch per element that stopped LLVM vectorising softplus (1.7 vs 0.19 ns per element)
    @intrinsic
    def _bits_to_f32(typingctx, x):
        """Reinterpret int32 bits as float32 (2^k from its exponent field)."""
        sig = types.float32(types.int32)

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.FloatType())
        return sig, codegen

    @njit(fastmath=True, error_model="numpy", inline="always")
    def _exp2(x):
        """2^x for float32 x, clamped to [-126, 126]: round to k + f with |f| ≤ 1/2, Taylor to f^6 (2e-7)."""
        x = min(max(x, np.float32(-126.0)), np.float32(126.0))
        k = np.floor(x + np.float32(0.5))
        f = x - k
        p = np.float32(1.0) + f * (np.float32(0.6931472) + f * (np.float32(0.2402265) + f * (
            np.float32(0.05550411) + f * (np.float32(0.009618129) + f * (np.float32(0.001333355)
                                                                      + f * np.float32(0.0001540353))))))
        return p * _bits_to_f32((np.int32(k) + np.int32(127)) << np.int32(23))

    @njit(fastmath=True, error_model="numpy", inline="always")
    def _log1p_unit(t):
        """ln(1 + t) for t in [0, 1]: 2·atanh(s), s = t / (2 + t) ≤ 1/3, odd series to s^13 (3e-8)."""
        s = t / (np.float32(2.0) + t)
        s2 = s * s
        return np.float32(2.0) * s * (np.float32(1.0) + s2 * (np.float32(1 / 3) + s2 * (np.float32(0.2) + s2 * (
            np.float32(1 / 7) + s2 * (np.float32(1 / 9) + s2 * (np.float32(1 / 11) + s2 * np.float32(1 / 13)))))))

    @njit(fastmath=True, error_model="numpy", inline="always")
    def _softplus(x):
        """max(x, 0) + ln(1 + e^{-|x|})."""
        return max(x, np.float32(0.0)) + _log1p_unit(_exp2(-abs(x) * np.float32(LOG2E)))

    @njit(fastmath=True, error_model="numpy", inline="always")
    def _program(task, D, G, W):
        """Batch index, program index, first channel and B/C group of program ``task`` (W of D channels each)."""
        blocks = D // W
        b, blk = task // blocks, task % blocks
        return b, blk, blk * W, (blk * W) // (D // G)

    @njit(fastmath=True, error_model="numpy", inline="always")
    def _load_tile(b, d0, t0, tl, W, u, dr, bias, softplus, ut, dt):
        """u and Δ = softplus(δ + bias) of tokens [t0, t0 + tl) of W channels, lane-major: [t·W + j]."""
        for j in range(W):
            bj = bias[d0 + j]
            for t in range(tl):
                ut[t * W + j] = u[b, d0 + j, t0 + t]
                dt[t * W + j] = dr[b, d0 + j, t0 + t] + bj
        if softplus:
            for i in range(tl * W):
                dt[i] = _softplus(dt[i])

    @njit(fastmath=True, error_model="numpy", parallel=True, cache=True)
    def scan_fwd(u, dr, bias, softplus, A, Bm, Cm, Dv, y, last, ckpt, W, T):
        """y = scan(u, Δ) + D·u, last state, and (if ``ckpt`` has rows) the state at each tile start."""
        batch, D, L = u.shape
        N = A.shape[1]
        blocks = D // W
        keep = ckpt.shape[0] > 0
        for task in prange(batch * blocks):
            b, blk, d0, g = _program(task, D, Bm.shape[1], W)
            h = np.zeros(N * W, np.float32)
            a2 = np.empty(N * W, np.float32)
            ut = np.empty(T * W, np.float32)
            dt = np.empty(T * W, np.float32)
            yt = np.empty(T * W, np.float32)
            for n in range(N):
                for j in range(W):
                    a2[n * W + j] = A[d0 + j, n] * np.float32(LOG2E)
            for c, t0 in enumerate(range(0, L, T)):
                tl = min(T, L - t0)
                if keep:
                    ckpt[b, blk, c, :] = h
                _load_tile(b, d0, t0, tl, W, u, dr, bias, softplus, ut, dt)
                for t in range(tl):
                    yv = yt[t * W:(t + 1) * W]
                    dv = dt[t * W:(t + 1) * W]
                    uv = ut[t * W:(t + 1) * W]
                    for j in range(W):
                        yv[j] = Dv[d0 + j] * uv[j]
                    for n in range(N):
                        bv = Bm[b, g, n, t0 + t]
                        cv = Cm[b, g, n, t0 + t]
                        hv = h[n * W:(n + 1) * W]
                        av = a2[n * W:(n + 1) * W]
                        for j in range(W):
                            x = _exp2(dv[j] * av[j]) * hv[j] + dv[j] * uv[j] * bv
                            hv[j] = x
                            yv[j] += cv * x
                for j in range(W):
                    for t in range(tl):
                        y[b, d0 + j, t0 + t] = yt[t * W + j]
            for n in range(N):
                for j in range(W):
                    last[b, d0 + j, n] = h[n * W + j]

    @njit(fastmath=True, error_model="numpy", parallel=True, cache=True)
    def scan_bwd(u, dr, bias, softplus, A, Bm, Cm, Dv, dy, dlast, ckpt, du, ddr, dA, dB, dC, W, T):
        """Gradients of ``scan_fwd``'s y and last state. dA: (batch, D, N); dB, dC: per program (batch, D / W, N, L)."""
        batch, D, L = u.shape
        N = A.shape[1]
        blocks = D // W
        NW = N * W
        for task in prange(batch * blocks):
            b, blk, d0, g = _program(task, D, Bm.shape[1], W)
            a2 = np.empty(NW, np.float32)
            a1 = np.empty(NW, np.float32)
            for n in range(N):
                for j in range(W):
                    a1[n * W + j] = A[d0 + j, n]
                    a2[n * W + j] = A[d0 + j, n] * np.float32(LOG2E)
            H = np.empty((T + 1) * NW, np.float32)  # H[t + 1] = h_t, H[0] = state before the tile
            ut = np.empty(T * W, np.float32)
            dt = np.empty(T * W, np.float32)
            gt = np.empty(T * W, np.float32)
            grad_u = np.empty(W, np.float32)
            grad_d = np.empty(W, np.float32)
            adj = np.empty(NW, np.float32)  # dL/dh_t from tokens after t (and from the last state)
            for n in range(N):
                for j in range(W):
                    adj[n * W + j] = dlast[b, d0 + j, n]
            grad_a = np.zeros(NW, np.float32)
            chunks = (L + T - 1) // T
            for c in range(chunks - 1, -1, -1):
                t0 = c * T
                tl = min(T, L - t0)
                _load_tile(b, d0, t0, tl, W, u, dr, bias, softplus, ut, dt)
                for j in range(W):
                    for t in range(tl):
                        gt[t * W + j] = dy[b, d0 + j, t0 + t]
                H[:NW] = ckpt[b, blk, c, :]
                for t in range(tl):
                    dv = dt[t * W:(t + 1) * W]
                    uv = ut[t * W:(t + 1) * W]
                    for n in range(N):
                        bv = Bm[b, g, n, t0 + t]
                        hp = H[t * NW + n * W:t * NW + (n + 1) * W]
                        hn = H[(t + 1) * NW + n * W:(t + 1) * NW + (n + 1) * W]
                        av = a2[n * W:(n + 1) * W]
                        for j in range(W):
                            hn[j] = _exp2(dv[j] * av[j]) * hp[j] + dv[j] * uv[j] * bv
                for t in range(tl - 1, -1, -1):
                    dv = dt[t * W:(t + 1) * W]
                    uv = ut[t * W:(t + 1) * W]
                    gv = gt[t * W:(t + 1) * W]
                    for j in range(W):
                        grad_u[j] = Dv[d0 + j] * gv[j]
                        grad_d[j] = 0.0
                    for n in range(N):
                        bv = Bm[b, g, n, t0 + t]
                        cv = Cm[b, g, n, t0 + t]
                        hp = H[t * NW + n * W:t * NW + (n + 1) * W]
                        hn = H[(t + 1) * NW + n * W:(t + 1) * NW + (n + 1) * W]
                        av = a1[n * W:(n + 1) * W]
                        av2 = a2[n * W:(n + 1) * W]
                        gn = adj[n * W:(n + 1) * W]
                        ga = grad_a[n * W:(n + 1) * W]
                        sum_c = np.float32(0.0)
                        sum_b = np.float32(0.0)
                        for j in range(W):
                            ej = _exp2(dv[j] * av2[j])
                            gh = gn[j] + gv[j] * cv  # dL/dh_t
                            sum_c += gv[j] * hn[j]
                            sum_b += gh * dv[j] * uv[j]
                            de = gh * hp[j] * ej  # dL/d(Δ·A)
                            ga[j] += de * dv[j]
                            grad_d[j] += de * av[j] + gh * bv * uv[j]
                            grad_u[j] += gh * bv * dv[j]
                            gn[j] = gh * ej
                        dC[b, blk, n, t0 + t] = sum_c
                        dB[b, blk, n, t0 + t] = sum_b
                    for j in range(W):
                        if softplus:  # softplus'(x) = sigmoid(x) = 1 - e^{-softplus(x)}
                            grad_d[j] *= np.float32(1.0) - _exp2(-dv[j] * np.float32(LOG2E))
                        du[b, d0 + j, t0 + t] = grad_u[j]
                        ddr[b, d0 + j, t0 + t] = grad_d[j]
            for n in range(N):
                for j in range(W):
                    dA[b, d0 + j, n] = grad_a[n * W + j]


    # ---- small d_state: rows instead of lanes -----------------------------------------------------------------
    # With one state the lane layout spends ~60% of its time transposing tiles. Here every element-wise step runs
    # along a channel's own contiguous row (vectorised over tokens) and only the two recurrences are sequential,
    # four rows interleaved so the dependent multiply-adds overlap. The backward needs no checkpoints: a row's
    # states (L floats) are recomputed whole. Each helper has one output so LLVM's runtime alias checks stay few.

    @njit(fastmath=True, error_model="numpy")
    def _row_delta(dr, bias, softplus, out):
        if softplus:  # the branch outside the loop: inside, it kept LLVM from vectorising (16x slower)
            for t in range(out.shape[0]):
                out[t] = _softplus(dr[t] + bias)
        else:
            for t in range(out.shape[0]):
                out[t] = dr[t] + bias

    @njit(fastmath=True, error_model="numpy")
    def _row_decay(dl, a2, out):
        for t in range(out.shape[0]):
            out[t] = _exp2(dl[t] * a2)

    @njit(fastmath=True, error_model="numpy")
    def _row_input(dl, u, b, out):
        for t in range(out.shape[0]):
            out[t] = dl[t] * u[t] * b[t]

    @njit(fastmath=True, error_model="numpy")
    def _row_output(c, h, dv, u, out):
        for t in range(out.shape[0]):
            out[t] = c[t] * h[t] + dv * u[t]

    @njit(fastmath=True, error_model="numpy")
    def _rows_recur(e, x, h0, h1, h2, h3):
        """x[k] ← states of h_t = e_t·h_{t-1} + x_t for four rows at once (in place); returns the last states."""
        e0, e1, e2, e3, x0, x1, x2, x3 = e[0], e[1], e[2], e[3], x[0], x[1], x[2], x[3]
        for t in range(x.shape[1]):
            h0 = e0[t] * h0 + x0[t]
            h1 = e1[t] * h1 + x1[t]
            h2 = e2[t] * h2 + x2[t]
            h3 = e3[t] * h3 + x3[t]
            x0[t], x1[t], x2[t], x3[t] = h0, h1, h2, h3
        return h0, h1, h2, h3

    @njit(fastmath=True, error_model="numpy")
    def _rows_adjoint(e, dy, c, g0, g1, g2, g3, out):
        """out[k, t] = dL/dh_t = dy_t·C_t + e_{t+1}·dL/dh_{t+1}, four rows at once, starting from the last state's g."""
        e0, e1, e2, e3, o0, o1, o2, o3 = e[0], e[1], e[2], e[3], out[0], out[1], out[2], out[3]
        y0, y1, y2, y3 = dy[0], dy[1], dy[2], dy[3]
        for t in range(out.shape[1] - 1, -1, -1):
            ct = c[t]
            g0 += y0[t] * ct
            g1 += y1[t] * ct
            g2 += y2[t] * ct
            g3 += y3[t] * ct
            o0[t], o1[t], o2[t], o3[t] = g0, g1, g2, g3
            g0 *= e0[t]
            g1 *= e1[t]
            g2 *= e2[t]
            g3 *= e3[t]

    @njit(fastmath=True, error_model="numpy")
    def _row_scale(p, s, out):
        for t in range(out.shape[0]):
            out[t] = s * p[t]

    @njit(fastmath=True, error_model="numpy")
    def _row_grad_delta(g, h, e, b, u, dl, a, first, out):
        """One state's part of dL/dΔ for one row, written (``first``) or added into ``out``; returns that state's
        dL/dA = Σ_t dL/d(Δ_t·A)·Δ_t."""
        grad_a = np.float32(0.0)
        if first:
            for t in range(out.shape[0]):
                de = g[t] * (h[t - 1] if t > 0 else np.float32(0.0)) * e[t]  # dL/d(Δ·A)
                grad_a += de * dl[t]
                out[t] = de * a + g[t] * b[t] * u[t]
        else:
            for t in range(out.shape[0]):
                de = g[t] * (h[t - 1] if t > 0 else np.float32(0.0)) * e[t]
                grad_a += de * dl[t]
                out[t] += de * a + g[t] * b[t] * u[t]
        return grad_a

    @njit(fastmath=True, error_model="numpy")
    def _row_softplus_grad(dl, out):
        """dL/dΔ → dL/dδ: softplus'(x) = sigmoid(x) = 1 - e^{-softplus(x)}."""
        for t in range(out.shape[0]):
            out[t] *= np.float32(1.0) - _exp2(-dl[t] * np.float32(LOG2E))

    @njit(fastmath=True, error_model="numpy")
    def _row_accumulate(p, q, r, out):
        for t in range(out.shape[0]):
            out[t] += p[t] * q[t] * r[t]

    @njit(fastmath=True, error_model="numpy")
    def _row_accumulate_pair(p, q, out):
        for t in range(out.shape[0]):
            out[t] += p[t] * q[t]

    @njit(fastmath=True, error_model="numpy", inline="always")
    def _rows_scratch(L):
        return np.empty((4, L), np.float32)

    @njit(fastmath=True, error_model="numpy")
    def _rows_delta(b, j, dr, bias, softplus, dl):
        for k in range(4):
            _row_delta(dr[b, j + k], bias[j + k], softplus, dl[k])

    @njit(fastmath=True, error_model="numpy")
    def _rows_states(b, j, g, n, u, dl, A, Bm, e, h):
        """State n of rows j … j+3: decays into e, states into h (each (4, L)); returns the four last states."""
        for k in range(4):
            _row_decay(dl[k], A[j + k, n] * np.float32(LOG2E), e[k])
            _row_input(dl[k], u[b, j + k], Bm[b, g, n], h[k])
        return _rows_recur(e, h, np.float32(0.0), np.float32(0.0), np.float32(0.0), np.float32(0.0))

    @njit(fastmath=True, error_model="numpy", parallel=True, cache=True)
    def scan_fwd_rows(u, dr, bias, softplus, A, Bm, Cm, Dv, y, last, W):
        """``scan_fwd`` by rows (small d_state), W rows (a multiple of 4) per program, one state at a time."""
        batch, D, L = u.shape
        N = A.shape[1]
        for task in prange(batch * (D // W)):
            b, blk, d0, g = _program(task, D, Bm.shape[1], W)
            dl, e, x = _rows_scratch(L), _rows_scratch(L), _rows_scratch(L)
            for j in range(d0, d0 + W, 4):
                _rows_delta(b, j, dr, bias, softplus, dl)
                for n in range(N):
                    h = _rows_states(b, j, g, n, u, dl, A, Bm, e, x)
                    for k in range(4):
                        last[b, j + k, n] = h[k]
                        if n == 0:
                            _row_output(Cm[b, g, 0], x[k], Dv[j + k], u[b, j + k], y[b, j + k])
                        else:
                            _row_accumulate_pair(Cm[b, g, n], x[k], y[b, j + k])

    @njit(fastmath=True, error_model="numpy", parallel=True, cache=True)
    def scan_bwd_rows(u, dr, bias, softplus, A, Bm, Cm, Dv, dy, dlast, du, ddr, dA, dB, dC, W):
        """``scan_bwd`` by rows: per state, recompute the rows' states, run the adjoint, add the element-wise grads."""
        batch, D, L = u.shape
        N = A.shape[1]
        for task in prange(batch * (D // W)):
            b, blk, d0, g = _program(task, D, Bm.shape[1], W)
            dl, e, h, adj = _rows_scratch(L), _rows_scratch(L), _rows_scratch(L), _rows_scratch(L)
            dB[b, blk] = 0.0
            dC[b, blk] = 0.0
            for j in range(d0, d0 + W, 4):
                _rows_delta(b, j, dr, bias, softplus, dl)
                for k in range(4):
                    _row_scale(dy[b, j + k], Dv[j + k], du[b, j + k])
                for n in range(N):
                    _rows_states(b, j, g, n, u, dl, A, Bm, e, h)
                    _rows_adjoint(e, dy[b, j:j + 4], Cm[b, g, n], dlast[b, j, n], dlast[b, j + 1, n],
                                  dlast[b, j + 2, n], dlast[b, j + 3, n], adj)
                    for k in range(4):
                        _row_accumulate(adj[k], Bm[b, g, n], dl[k], du[b, j + k])
                        dA[b, j + k, n] = _row_grad_delta(adj[k], h[k], e[k], Bm[b, g, n], u[b, j + k], dl[k],
                                                          A[j + k, n], n == 0, ddr[b, j + k])
                        _row_accumulate(adj[k], dl[k], u[b, j + k], dB[b, blk, n])
                        _row_accumulate_pair(dy[b, j + k], h[k], dC[b, blk, n])
                if softplus:
                    for k in range(4):
                        _row_softplus_grad(dl[k], ddr[b, j + k])

def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


def _threads():
    return min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)


class _NumbaScanFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, delta_bias, softplus, keep):
        batch, channels, length = u.shape
        Bg, Cg = common_groups(B.float(), C.float())  # one group index per program
        lanes = lanes_for(channels, Bg.shape[1])
        u32, d32 = u.float().contiguous(), delta.float().contiguous()
        Dv = D.float() if D is not None else u32.new_zeros(channels)
        bias = delta_bias.float() if delta_bias is not None else u32.new_zeros(channels)
        y = torch.empty_like(u32)
        last = u32.new_empty(batch, channels, A.shape[1])
        # rows write y inside the loop over states: d_state 0 takes the lanes kernels (y = D·u, no states)
        rows = 1 <= A.shape[1] <= ROWS_MAX_STATE and lanes % 4 == 0
        common = (_np(u32), _np(d32), _np(bias), softplus, _np(A.float()), _np(Bg), _np(Cg), _np(Dv))
        if rows:
            ckpt = u32.new_empty(0)
            _run(scan_fwd_rows, *common, y.numpy(), last.numpy(), lanes)
        else:
            chunks = -(-length // TILE)
            ckpt = u32.new_empty((batch, channels // lanes, chunks, A.shape[1] * lanes) if keep else (0, 0, 0, 0))
            _run(scan_fwd, *common, y.numpy(), last.numpy(), ckpt.numpy(), lanes, TILE)
        if keep:
            ctx.save_for_backward(u32, d32, A, Bg, Cg, Dv, bias, ckpt)
            ctx.meta = (softplus, lanes, rows, num_groups(B), B.dim(), num_groups(C), C.dim(),
                        D is not None, delta_bias is not None)
        return y, last

    @staticmethod
    def backward(ctx, dy, dlast):
        u32, d32, A, Bg, Cg, Dv, bias, ckpt = ctx.saved_tensors
        softplus, lanes, rows, b_groups, b_dim, c_groups, c_dim, has_D, has_bias = ctx.meta
        batch, channels, length = u32.shape
        N = A.shape[1]
        dy = dy.float().contiguous() if dy is not None else torch.zeros_like(u32)
        dlast = dlast.float().contiguous() if dlast is not None else u32.new_zeros(batch, channels, N)
        du, dd = torch.empty_like(u32), torch.empty_like(u32)
        dA = u32.new_empty(batch, channels, N)
        blocks = channels // lanes
        dBp, dCp = u32.new_empty(batch, blocks, N, length), u32.new_empty(batch, blocks, N, length)
        common = (_np(u32), _np(d32), _np(bias), softplus, _np(A.float()), _np(Bg), _np(Cg), _np(Dv), _np(dy),
                  _np(dlast))
        grads = (du.numpy(), dd.numpy(), dA.numpy(), dBp.numpy(), dCp.numpy(), lanes)
        if rows:
            _run(scan_bwd_rows, *common, *grads)
        else:
            _run(scan_bwd, *common[:10], _np(ckpt), *grads, TILE)
        dB = sum_to_groups(dBp, b_groups, b_dim)
        dC = sum_to_groups(dCp, c_groups, c_dim)
        dD = (dy * u32).sum((0, 2)) if has_D else None
        dbias = dd.sum((0, 2)) if has_bias else None
        return du, dd, dA.sum(0), dB, dC, dD, dbias, None, None


_SERIAL = {}


def _serial(kernel):
    """``kernel`` compiled without ``parallel=True`` (no threading layer), on first use."""
    if kernel not in _SERIAL:
        _SERIAL[kernel] = njit(fastmath=True, error_model="numpy")(kernel.py_func)
    return _SERIAL[kernel]


def _run(kernel, *args):
    """Run a parallel kernel on torch's thread count. In a forked child (DataLoader workers, multiprocessing pools)
    run its serial twin instead: numba's OpenMP threading layer, its default where GNU OpenMP is installed, aborts
    a child forked after the parent used it. (The fork-safe "workqueue" layer instead measured 15-25% slower per
    model forward here.)"""
    if _forked:
        _serial(kernel)(*args)
        return
    with _LOCK:
        torch_threads = torch.get_num_threads()
        previous = numba.get_num_threads()
        numba.set_num_threads(_threads())
        try:
            kernel(*args)
        finally:
            numba.set_num_threads(previous)
            # numba's OpenMP layer and torch share GNU OpenMP: starting it (the first kernel, i.e. the compile check
            # inside a model's first forward) sets the OpenMP thread count, which torch reads as its own. Matmuls
            # after it would run on another thread count, with another summation order: results would differ
            # (~1e-5) from the first forward's. Put torch's count back.
            if torch.get_num_threads() != torch_threads:
                torch.set_num_threads(torch_threads)


def selective_scan_numba(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                         return_last_state=False, out_dtype=None):
    """Selective scan on CPU with the semantics of ``kernels/ref.py``. ``C=None`` (the hidden states) is supported
    for d_state 1 only: there the states are y with C = 1 and no D, so the same kernels compute them."""
    if numba is None:
        raise RuntimeError("selective_scan: backend='numba' needs the `numba` package (pip install numba); "
                           "backend='torch' runs without it.")
    if C is None and A.shape[1] != 1:
        raise ValueError(f"selective_scan: backend='numba' returns the hidden states (C=None) for d_state 1 only, "
                         f"got d_state {A.shape[1]}; use backend='torch' (or 'auto').")
    if u.device.type != "cpu":
        raise ValueError(f"selective_scan: backend='numba' runs on CPU tensors, got {u.device}; "
                         "use backend='auto' (Triton on CUDA).")
    out_dtype = out_dtype or u.dtype
    states = C is None
    if states:  # states are taken before D and the gate (ref.py)
        C, D, z = u.new_ones(u.shape[0], 1, 1, u.shape[2], dtype=torch.float32), None, None
    keep = will_backward(u, delta, A, B, C, D, delta_bias)
    y, last = _NumbaScanFn.apply(u, delta, A, B, C, D, delta_bias, bool(delta_softplus), keep)
    if z is not None:
        y = y * torch.nn.functional.silu(z.float())
    y = y.to(out_dtype)
    if states:
        y = y.unsqueeze(2)
    return (y, last) if return_last_state else y


def warmup() -> None:
    """Compile (or load from numba's cache) the forward and backward kernels on a tiny input."""
    # the autograd Function itself, not ``selective_scan_numba``: the FLOP counter swaps that name for a stub
    with torch.inference_mode(False), torch.enable_grad():
        u = torch.randn(1, 2, 3, requires_grad=True)
        y, _ = _NumbaScanFn.apply(u, torch.rand(1, 2, 3), -torch.ones(2, 1), torch.randn(1, 1, 3),
                                  torch.randn(1, 1, 3), None, None, False, True)
        y.sum().backward()
