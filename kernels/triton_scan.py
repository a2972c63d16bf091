"""Triton selective scan: fused forward and recompute-only backward.

One program per (batch, channel tile of BD channels). Each program walks L in tiles of BL tokens with the
state carry ``[BD, N]`` in registers, loads each B/C tile once for its BD channels (a tile never straddles a
B or C group), scans ``(exp(Δ·A), Δ·u·B)`` pairs with ``tl.associative_scan`` on a ``[BD, N, BL]`` tile and
stores the tile's carry-in as a checkpoint. The backward walks the tiles in reverse, recomputes the states
from the checkpoints, and runs the adjoint scan as a *forward* scan over reversed-offset loads (never
``reverse=True``, see triton-lang/triton#4362). dB/dC/dA/dD/ddelta_bias are reduced deterministically through
per-program workspaces and ``torch.sum``. All maths is float32; inputs may be fp16/bf16.

``triton`` is imported lazily: the package imports without it. For CPU tests set ``TRITON_INTERPRET=1``
before triton is imported.
"""
import math
import os
from typing import Dict, Tuple

import torch

from ._common import as_grouped, cast_grads, num_groups, sum_to_groups, will_backward

try:  # imported lazily by selective_scan(backend="triton"); the package itself never needs triton
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised only where triton is missing
    triton = None



def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def _pow2(x: int) -> int:
    return 1 << max(0, int(x) - 1).bit_length()


if triton is not None:
    @triton.jit
    def _combine(a1, b1, a2, b2):
        return a1 * a2, a2 * b1 + b2

    @triton.jit
    def _delta(dl_ptr, bias, off, m2, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
        """Load δ, add the bias, softplus (x ≤ 20 guard); 0 outside the mask so exp(0·A) = 1 passes state on."""
        pre = tl.load(dl_ptr + off, mask=m2, other=0.0).to(tl.float32)
        if HAS_BIAS:
            pre = pre + bias[:, None]
        dt = pre
        if SOFTPLUS:
            dt = tl.where(pre <= 20.0, tl.log(1.0 + tl.exp(pre)), pre)
        return tl.where(m2, dt, 0.0), pre

    @triton.jit
    def _program(A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr, L, DIM, GB, GC, cpg_b, cpg_c, cpg_t, n_ct,
                 N: tl.constexpr, NP: tl.constexpr, BD: tl.constexpr, HAS_D: tl.constexpr, HAS_BIAS: tl.constexpr):
        """This program's batch index, BD channels (inside one B and one C group), per-channel parameters and the
        bases of its B/C groups: shared by the forward and backward kernels."""
        pid_b = tl.program_id(0)
        pid_c = tl.program_id(1)
        tg = pid_c // n_ct
        d_in = (pid_c % n_ct) * BD + tl.arange(0, BD)
        dmask = d_in < cpg_t
        d = tg * cpg_t + d_in
        d0 = tg * cpg_t
        n = tl.arange(0, NP)
        nmask = n < N
        dn_mask = dmask[:, None] & nmask[None, :]
        A = tl.load(A_ptr + d[:, None] * N + n[None, :], mask=dn_mask, other=0.0)
        bias = tl.load(bias_ptr + d, mask=dmask, other=0.0).to(tl.float32) if HAS_BIAS else tl.zeros([BD], tl.float32)
        Dv = tl.load(D_ptr + d, mask=dmask, other=0.0).to(tl.float32) if HAS_D else tl.zeros([BD], tl.float32)
        row = pid_b * DIM + d
        b_base = B_ptr + (pid_b * GB + d0 // cpg_b) * N * L
        c_base = C_ptr + (pid_b * GC + d0 // cpg_c) * N * L
        return pid_b, pid_c, d, dmask, n, nmask, dn_mask, A, bias, Dv, row, b_base, c_base

    @triton.jit
    def _fwd_loads(u_ptr, dl_ptr, b_base, c_base, z_ptr, row, dmask, n, nmask, r, it, L,
                   BD: tl.constexpr, NP: tl.constexpr, BL: tl.constexpr, HAS_C: tl.constexpr, HAS_Z: tl.constexpr):
        """One token tile's inputs as float32: u, raw δ, B, C, z (zeros past L and for absent inputs)."""
        l = it * BL + r
        lmask = l < L
        m2 = dmask[:, None] & lmask[None, :]
        off = row[:, None] * L + l[None, :]
        nl_mask = nmask[:, None] & lmask[None, :]
        u = tl.load(u_ptr + off, mask=m2, other=0.0).to(tl.float32)
        dl = tl.load(dl_ptr + off, mask=m2, other=0.0).to(tl.float32)
        Bt = tl.load(b_base + n[:, None] * L + l[None, :], mask=nl_mask, other=0.0).to(tl.float32)
        if HAS_C:
            Ct = tl.load(c_base + n[:, None] * L + l[None, :], mask=nl_mask, other=0.0).to(tl.float32)
        else:
            Ct = tl.zeros([NP, BL], tl.float32)
        if HAS_Z:
            zz = tl.load(z_ptr + off, mask=m2, other=0.0).to(tl.float32)
        else:
            zz = tl.zeros([BD, BL], tl.float32)
        return u, dl, Bt, Ct, zz

    @triton.jit
    def _fwd_kernel(u_ptr, dl_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, out_ptr, last_ptr, ckpt_ptr,
                    L, DIM, GB, GC, cpg_b, cpg_c, cpg_t, n_ct, n_lt,
                    N: tl.constexpr, NP: tl.constexpr, BD: tl.constexpr, BL: tl.constexpr,
                    HAS_C: tl.constexpr, HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr,
                    SOFTPLUS: tl.constexpr, PREFETCH: tl.constexpr):
        pid_b, pid_c, d, dmask, n, nmask, dn_mask, A, bias, Dv, row, b_base, c_base = _program(
            A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr, L, DIM, GB, GC, cpg_b, cpg_c, cpg_t, n_ct, N, NP, BD, HAS_D, HAS_BIAS)
        r = tl.arange(0, BL)
        carry = tl.zeros([BD, NP], tl.float32)
        # PREFETCH: each iteration issues the next tile's loads before its own maths, so they are in flight
        # while the scan runs (the loop is otherwise latency-bound when there are few programs)
        u_nx, dl_nx, B_nx, C_nx, z_nx = _fwd_loads(u_ptr, dl_ptr, b_base, c_base, z_ptr, row, dmask, n, nmask, r, 0,
                                                   L, BD, NP, BL, HAS_C, HAS_Z)
        for it in range(n_lt):
            l = it * BL + r
            lmask = l < L
            m2 = dmask[:, None] & lmask[None, :]
            off = row[:, None] * L + l[None, :]
            if PREFETCH:
                u, pre, Bt, Ct, zz = u_nx, dl_nx, B_nx, C_nx, z_nx
                u_nx, dl_nx, B_nx, C_nx, z_nx = _fwd_loads(u_ptr, dl_ptr, b_base, c_base, z_ptr, row, dmask, n, nmask,
                                                           r, it + 1, L, BD, NP, BL, HAS_C, HAS_Z)
            else:
                u, pre, Bt, Ct, zz = _fwd_loads(u_ptr, dl_ptr, b_base, c_base, z_ptr, row, dmask, n, nmask, r, it, L,
                                                BD, NP, BL, HAS_C, HAS_Z)
            if HAS_BIAS:
                pre = pre + bias[:, None]
            dt = pre
            if SOFTPLUS:
                dt = tl.where(pre <= 20.0, tl.log(1.0 + tl.exp(pre)), pre)
            dt = tl.where(m2, dt, 0.0)  # exp(0·A) = 1 passes the state on past L
            tl.store(ckpt_ptr + (row[:, None] * n_lt + it) * N + n[None, :], carry, mask=dn_mask)
            a = tl.exp(dt[:, None, :] * A[:, :, None])
            bx = (dt * u)[:, None, :] * Bt[None, :, :]
            ca, cb = tl.associative_scan((a, bx), 2, _combine)
            h = cb + ca * carry[:, :, None]
            carry = tl.sum(tl.where((r == BL - 1)[None, None, :], h, 0.0), 2)
            if HAS_C:
                y = tl.sum(h * Ct[None, :, :], 1)
                if HAS_D:
                    y += Dv[:, None] * u
                if HAS_Z:
                    y = y * zz * tl.sigmoid(zz)
                tl.store(out_ptr + off, y.to(out_ptr.dtype.element_ty), mask=m2)
            else:
                soff = (row[:, None, None] * N + n[None, :, None]) * L + l[None, None, :]
                smask = dn_mask[:, :, None] & lmask[None, None, :]
                tl.store(out_ptr + soff, h.to(out_ptr.dtype.element_ty), mask=smask)
        tl.store(last_ptr + row[:, None] * N + n[None, :], carry, mask=dn_mask)

    @triton.jit
    def _bwd_kernel(u_ptr, dl_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, dout_ptr, dlast_ptr, ckpt_ptr,
                    du_ptr, ddl_ptr, dz_ptr, dA_ws, dD_ws, dbias_ws, dB_ws, dC_ws,
                    L, DIM, GB, GC, cpg_b, cpg_c, cpg_t, n_ct, n_lt, n_prog_c,
                    N: tl.constexpr, NP: tl.constexpr, BD: tl.constexpr, BL: tl.constexpr,
                    HAS_C: tl.constexpr, HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr,
                    SOFTPLUS: tl.constexpr, HAS_DLAST: tl.constexpr):
        pid_b, pid_c, d, dmask, n, nmask, dn_mask, A, bias, Dv, row, b_base, c_base = _program(
            A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr, L, DIM, GB, GC, cpg_b, cpg_c, cpg_t, n_ct, N, NP, BD, HAS_D, HAS_BIAS)
        ws_base = (pid_b * n_prog_c + pid_c) * N * L
        r = tl.arange(0, BL)
        if HAS_DLAST:
            gcarry = tl.load(dlast_ptr + row[:, None] * N + n[None, :], mask=dn_mask, other=0.0).to(tl.float32)
        else:
            gcarry = tl.zeros([BD, NP], tl.float32)
        dA_acc = tl.zeros([BD, NP], tl.float32)
        dD_acc = tl.zeros([BD], tl.float32)
        dbias_acc = tl.zeros([BD], tl.float32)
        for it in range(n_lt):
            i = n_lt - 1 - it
            # 1) recompute the states of this tile (forward order) from its checkpoint
            l = i * BL + r
            lmask = l < L
            m2 = dmask[:, None] & lmask[None, :]
            off = row[:, None] * L + l[None, :]
            u = tl.load(u_ptr + off, mask=m2, other=0.0).to(tl.float32)
            dt, pre = _delta(dl_ptr, bias, off, m2, HAS_BIAS, SOFTPLUS)
            Bt = tl.load(b_base + n[:, None] * L + l[None, :], mask=nmask[:, None] & lmask[None, :], other=0.0).to(tl.float32)
            carry = tl.load(ckpt_ptr + (row[:, None] * n_lt + i) * N + n[None, :], mask=dn_mask, other=0.0)
            ca, cb = tl.associative_scan((tl.exp(dt[:, None, :] * A[:, :, None]), (dt * u)[:, None, :] * Bt[None, :, :]),
                                         2, _combine)
            h = tl.flip(cb + ca * carry[:, :, None], 2)  # states in reversed order
            # 2) everything else in reversed order: position lr = tile end - r
            lr = i * BL + (BL - 1 - r)
            lrmask = lr < L
            m2r = dmask[:, None] & lrmask[None, :]
            nlr = nmask[:, None] & lrmask[None, :]
            offr = row[:, None] * L + lr[None, :]
            u = tl.load(u_ptr + offr, mask=m2r, other=0.0).to(tl.float32)
            dt, pre = _delta(dl_ptr, bias, offr, m2r, HAS_BIAS, SOFTPLUS)
            m2n = dmask[:, None] & ((lr + 1) < L)[None, :]
            dt_next, _ = _delta(dl_ptr, bias, offr + 1, m2n, HAS_BIAS, SOFTPLUS)
            Bt = tl.load(b_base + n[:, None] * L + lr[None, :], mask=nlr, other=0.0).to(tl.float32)
            x = (dt * u)[:, None, :] * Bt[None, :, :]
            if HAS_C:
                Ct = tl.load(c_base + n[:, None] * L + lr[None, :], mask=nlr, other=0.0).to(tl.float32)
                dy = tl.load(dout_ptr + offr, mask=m2r, other=0.0).to(tl.float32)
                if HAS_Z:
                    zz = tl.load(z_ptr + offr, mask=m2r, other=0.0).to(tl.float32)
                    sig = tl.sigmoid(zz)
                    y = tl.sum(h * Ct[None, :, :], 1)
                    if HAS_D:
                        y += Dv[:, None] * u
                    tl.store(dz_ptr + offr, dy * y * sig * (1.0 + zz * (1.0 - sig)), mask=m2r)
                    dy = dy * zz * sig
                q = Ct[None, :, :] * dy[:, None, :]
                if HAS_D:
                    dD_acc += tl.sum(dy * u, 1)
                tl.store(dC_ws + ws_base + n[:, None] * L + lr[None, :], tl.sum(h * dy[:, None, :], 0), mask=nlr)
            else:
                soff = (row[:, None, None] * N + n[None, :, None]) * L + lr[None, None, :]
                q = tl.load(dout_ptr + soff, mask=dn_mask[:, :, None] & lrmask[None, None, :], other=0.0).to(tl.float32)
            # 3) adjoint g_t = a_{t+1} g_{t+1} + q_t as a forward scan over reversed positions
            alpha = tl.exp(dt_next[:, None, :] * A[:, :, None])
            sa, sg = tl.associative_scan((alpha, q), 2, _combine)
            g = sg + sa * gcarry[:, :, None]
            gcarry = tl.sum(tl.where((r == BL - 1)[None, None, :], g, 0.0), 2)
            # 4) local gradients
            dla = g * (h - x)  # d loss / d(Δ·A) = g_t a_t h_{t-1}
            gB = tl.sum(g * Bt[None, :, :], 1)
            du = gB * dt
            if HAS_D:  # HAS_D implies HAS_C here (the wrapper passes D only with C)
                du += dy * Dv[:, None]
            ddt = gB * u + tl.sum(dla * A[:, :, None], 1)
            dA_acc += tl.sum(dla * dt[:, None, :], 2)
            if SOFTPLUS:
                ddt = ddt * tl.sigmoid(pre)
            ddt = tl.where(m2r, ddt, 0.0)
            dbias_acc += tl.sum(ddt, 1)
            tl.store(du_ptr + offr, du, mask=m2r)
            tl.store(ddl_ptr + offr, ddt, mask=m2r)
            tl.store(dB_ws + ws_base + n[:, None] * L + lr[None, :], tl.sum(g * (dt * u)[:, None, :], 0), mask=nlr)
        tl.store(dA_ws + (pid_b * DIM + d[:, None]) * N + n[None, :], dA_acc, mask=dn_mask)
        tl.store(dD_ws + pid_b * DIM + d, dD_acc, mask=dmask)
        tl.store(dbias_ws + pid_b * DIM + d, dbias_acc, mask=dmask)


def _kernels():
    if triton is None:
        raise RuntimeError("selective_scan: backend='triton' needs the `triton` package; use backend='torch'.")
    return _fwd_kernel, _bwd_kernel


# (BD channels, BL tokens, num_warps[, num_stages]) per kernel, keyed by "fwd" / "bwd"; set by ``kernels/tune.py`` to sweep
# tile shapes on a GPU. Forward and backward must share BL (the backward restarts from per-BL-tile checkpoints).
TILE_OVERRIDES: Dict[str, Tuple[int, ...]] = {}
FWD_PREFETCH = True  # forward issues tile i+1's loads before tile i's maths (kernels/tune.py --prefetch-ab)


class _Geometry:
    """Groups, tiles and grids of one call."""

    def __init__(self, u, A, B, C, training: bool = True):
        self.batch, self.dim, self.length = u.shape
        self.state = A.shape[1]
        self.gb, self.gc = num_groups(B), num_groups(C)
        self.cpg_b, self.cpg_c = self.dim // self.gb, self.dim // self.gc
        self.cpg_t = math.gcd(self.cpg_b, self.cpg_c)  # a channel tile stays inside one B and one C group
        self.np = _pow2(self.state)
        interp = _interpreting()
        if interp:  # small tiles so tests exercise several channel and token tiles
            self.bl = max(2, min(8, _pow2(self.length)))
            bd = max(1, min(_pow2(self.cpg_t), 64 // (self.np * self.bl) or 1, 4))
            tiles = {"fwd": (bd, self.bl, 4), "bwd": (bd, self.bl, 4)}
        else:
            tiles = _cuda_tiles(self.batch, self.dim, self.length, self.np, self.cpg_t, training)
        tiles.update(TILE_OVERRIDES)
        self.bl = tiles["fwd"][1]
        if tiles["bwd"][1] != self.bl:
            raise ValueError(f"TILE_OVERRIDES: fwd and bwd must share BL, got {tiles}")
        self.n_lt = -(-self.length // self.bl)
        self.tiles = tiles

    def launch(self, mode: str):
        """(BD, channel tiles per group, channel programs, grid, launch options) of the ``mode`` kernel."""
        bd, _, warps, *stages = self.tiles[mode]
        bd = min(bd, _pow2(self.cpg_t))
        n_ct = -(-self.cpg_t // bd)
        n_prog_c = (self.dim // self.cpg_t) * n_ct
        options = {"num_warps": warps}
        if stages:
            options["num_stages"] = stages[0]
        return bd, n_ct, n_prog_c, (self.batch, n_prog_c), options


def _cuda_tiles(batch: int, dim: int, length: int, np_: int, cpg: int,
                training: bool = True) -> Dict[str, Tuple[int, int, int]]:
    """Tile shapes on a GPU, from the H100 sweep in kernels/BENCHMARKS.md (``kernels/tune.py``).

    N = 1: 2-channel, 256-token tiles on one warp keep the most loads in flight once there are >= ~1.5K
    programs; fewer programs (small batch, inference) do better with 512-token tiles on 4 warps (one 1024-token
    tile when L ≤ 1024). The backward
    is fastest with 1-channel, 256-token tiles, and must share BL with the forward, so training uses BL = 256.
    N > 1: a [BD, N, BL] tile is N times larger, so 32-token tiles.
    """
    if np_ > 1:
        return {"fwd": (1, 32, 2), "bwd": (2, 32, 4)}
    many_programs = batch * max(1, dim // 2) >= 1536
    if training or many_programs:
        fwd = (2, 256, 1)
    else:  # few programs: longer tiles; one tile for L ≤ 1024
        fwd = (2, 1024, 4) if length <= 1024 else (2, 512, 4)
    return {"fwd": fwd, "bwd": (1, fwd[1], 1 if fwd[1] == 256 else 2)}


def scan_forward(u, delta, A, B, C, D, z, delta_bias, delta_softplus: bool, out_dtype, training: bool = True):
    """Launch the forward kernel; returns (out, last state, saved tensors for ``scan_backward``, geometry).

    ``training=False`` (no backward will follow) lets the forward pick its tile length freely.
    """
    fwd, _ = _kernels()
    geo = _Geometry(u, A, B, C, training)
    b, dim, L, N = geo.batch, geo.dim, geo.length, geo.state
    uc, dc, Ac = u.contiguous(), delta.contiguous(), A.contiguous()
    Bc = as_grouped(B).contiguous()
    Cc = as_grouped(C).contiguous() if C is not None else None
    zc = z.contiguous() if z is not None else None
    D = D.contiguous() if D is not None else None
    delta_bias = delta_bias.contiguous() if delta_bias is not None else None
    out = torch.empty((b, dim, N, L) if C is None else (b, dim, L), device=u.device, dtype=out_dtype)
    last = torch.empty(b, dim, N, device=u.device, dtype=torch.float32)
    ckpt = torch.empty(b, dim, geo.n_lt, N, device=u.device, dtype=torch.float32)
    bd, n_ct, _, grid, options = geo.launch("fwd")
    fwd[grid](uc, dc, Ac, Bc, Cc if C is not None else Bc, D if D is not None else Ac,
              zc if z is not None else uc, delta_bias if delta_bias is not None else Ac,
              out, last, ckpt, L, dim, geo.gb, geo.gc, geo.cpg_b, geo.cpg_c, geo.cpg_t, n_ct, geo.n_lt,
              N=N, NP=geo.np, BD=bd, BL=geo.bl, HAS_C=C is not None, HAS_D=D is not None,
              HAS_Z=z is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=bool(delta_softplus),
              PREFETCH=FWD_PREFETCH, **options)
    return out, last, (uc, dc, Ac, Bc, Cc, D, zc, delta_bias, ckpt), geo


def scan_backward(saved, geo: "_Geometry", delta_softplus: bool, dout, dlast):
    """Launch the backward kernel; returns float32 du, dΔ, dA and dB, dC, dD, dz, dΔbias (before dtype casts)."""
    _, bwd = _kernels()
    uc, dc, Ac, Bc, Cc, D, zc, delta_bias, ckpt = saved
    b, dim, L, N = geo.batch, geo.dim, geo.length, geo.state
    has_c = Cc is not None
    dev, f32 = uc.device, torch.float32
    if dout is None:
        dout = torch.zeros((b, dim, L) if has_c else (b, dim, N, L), device=dev, dtype=f32)
    dout = dout.contiguous()
    bd, n_ct, n_prog_c, grid, options = geo.launch("bwd")
    du = torch.empty(b, dim, L, device=dev, dtype=f32)
    ddl = torch.empty_like(du)
    dz = torch.empty_like(du) if (zc is not None and has_c) else du
    dA_ws = torch.empty(b, dim, N, device=dev, dtype=f32)
    dD_ws = torch.empty(b, dim, device=dev, dtype=f32)
    dbias_ws = torch.empty(b, dim, device=dev, dtype=f32)
    dB_ws = torch.empty(b, n_prog_c, N, L, device=dev, dtype=f32)
    dC_ws = torch.empty_like(dB_ws) if has_c else dB_ws
    bwd[grid](uc, dc, Ac, Bc, Cc if has_c else Bc, D if D is not None else Ac,
              zc if zc is not None else uc, delta_bias if delta_bias is not None else Ac,
              dout, dlast.contiguous() if dlast is not None else Ac, ckpt,
              du, ddl, dz, dA_ws, dD_ws, dbias_ws, dB_ws, dC_ws,
              L, dim, geo.gb, geo.gc, geo.cpg_b, geo.cpg_c, geo.cpg_t, n_ct, geo.n_lt, n_prog_c,
              N=N, NP=geo.np, BD=bd, BL=geo.bl, HAS_C=has_c, HAS_D=(D is not None and has_c),
              HAS_Z=(zc is not None and has_c), HAS_BIAS=delta_bias is not None, SOFTPLUS=delta_softplus,
              HAS_DLAST=dlast is not None, **options)
    # programs are ordered by channel tile, so each group owns a contiguous run of them
    dB = sum_to_groups(dB_ws, geo.gb, 4)
    dC = sum_to_groups(dC_ws, geo.gc, 4) if has_c else None
    dD = dD_ws.sum(0) if (D is not None and has_c) else None
    dbias = dbias_ws.sum(0) if delta_bias is not None else None
    return du, ddl, dA_ws.sum(0), dB, dC, dD, (dz if (zc is not None and has_c) else None), dbias


class _TritonScanFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus, out_dtype, training):
        out, last, saved, geo = scan_forward(u, delta, A, B, C, D, z, delta_bias, bool(delta_softplus), out_dtype,
                                             training)
        ctx.save_for_backward(*saved)
        ctx.geo, ctx.softplus = geo, bool(delta_softplus)
        ctx.b3, ctx.c3 = B.dim() == 3, C is not None and C.dim() == 3
        ctx.set_materialize_grads(False)
        return out, last

    @staticmethod
    def backward(ctx, dout, dlast):
        saved = ctx.saved_tensors
        uc, dc, Ac, Bc, Cc, D, zc, delta_bias, _ = saved
        du, ddl, dA, dB, dC, dD, dz, dbias = scan_backward(saved, ctx.geo, ctx.softplus, dout, dlast)
        dB = dB[:, 0] if ctx.b3 else dB
        if dC is not None:
            dC = dC[:, 0] if ctx.c3 else dC
        return cast_grads((du, ddl, dA, dB, dC, dD, dz, dbias), (uc, dc, Ac, Bc, Cc, D, zc, delta_bias)) + (None,) * 3


def selective_scan_triton(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                          return_last_state=False, out_dtype=None):
    """Triton selective scan (CUDA, or CPU tensors under ``TRITON_INTERPRET=1``); semantics of ``ref.py``."""
    out_dtype = out_dtype or u.dtype
    out, last = _TritonScanFn.apply(u, delta, A, B, C, D, z, delta_bias, bool(delta_softplus), out_dtype,
                                    will_backward(u, delta, A, B, C, D, z, delta_bias))
    return (out, last) if return_last_state else out
