"""Public selective-scan function: argument checks and backend dispatch.

Semantics (channel d of D, state n, step t)::

    Δ_t = softplus(δ_t + δ_bias) if delta_softplus else δ_t + δ_bias
    h_t = exp(Δ_t·A[d, n])·h_{t-1} + Δ_t·B_t[n]·u_t
    y_t = Σ_n C_t[n]·h_t[n] + D[d]·u_t ;  y_t ← y_t·silu(z_t) if z is given

The signature follows mamba_ssm's ``selective_scan_fn`` so code can switch between the two.
"""
import contextlib
import os
from typing import Callable, List, Optional, Tuple

import torch

BACKENDS = ("auto", "ref", "torch", "numba", "triton", "export")

# Backend forced on every call while ``force_backend(name)`` is active (ONNX export uses "export").
_FORCED_BACKEND: Optional[str] = None


@contextlib.contextmanager
def force_backend(name: str):
    """Route every ``selective_scan`` call to ``name`` (whatever the caller asked) inside the block."""
    global _FORCED_BACKEND
    if name not in BACKENDS:
        raise ValueError(f"force_backend: unknown backend {name!r}; choose one of {BACKENDS}.")
    previous, _FORCED_BACKEND = _FORCED_BACKEND, name
    try:
        yield
    finally:
        _FORCED_BACKEND = previous

# Observers of every call (the FLOP counter in visionssm.benchmark uses this). Each is called as
# ``hook(info)`` with a dict of shapes (batch, channels, length, state, groups, has_C, has_D, has_z, backend)
# and may return a context manager entered around the computation. Empty list: one truthiness test per call.
SCAN_HOOKS: List[Callable[[dict], Optional[contextlib.AbstractContextManager]]] = []


def _triton_usable(device: torch.device) -> bool:
    if device.type != "cuda" and os.environ.get("TRITON_INTERPRET", "0") != "1":
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def _numba_usable() -> bool:
    from .numba_scan import numba_available
    return numba_available()


def available_backends(device: Optional[torch.device] = None) -> Tuple[str, ...]:
    """Backends that can run on ``device`` (CPU by default) in this environment."""
    device = torch.device(device or "cpu")
    names = ["ref", "torch"]
    if device.type == "cpu" and _numba_usable():
        names.append("numba")
    if _triton_usable(device):
        names.append("triton")
    return tuple(names)


def _shape_error(name: str, got, expected: str) -> ValueError:
    return ValueError(f"selective_scan: `{name}` has shape {tuple(got)}, expected {expected}.")


def _check_inputs(u, delta, A, B, C, D, z, delta_bias, check_finite: bool):
    if u.dim() != 3:
        raise _shape_error("u", u.shape, "(batch, D, L)")
    batch, channels, length = u.shape
    if delta.shape != u.shape:
        raise _shape_error("delta", delta.shape, f"{tuple(u.shape)} like u (batch, D, L)")
    if A.dim() != 2 or A.shape[0] != channels:
        raise _shape_error("A", A.shape, f"({channels}, N)")
    if A.dtype != torch.float32:
        raise TypeError(f"selective_scan: `A` must be float32 (got {A.dtype}); keep A_log in float32 and pass -exp(A_log).float().")
    state = A.shape[1]
    for name, bc in (("B", B), ("C", C)):
        if bc is None:
            if name == "B":
                raise ValueError("selective_scan: `B` is required.")
            continue
        if bc.dim() == 3:
            if bc.shape != (batch, state, length):
                raise _shape_error(name, bc.shape, f"({batch}, {state}, {length}) or grouped ({batch}, G, {state}, {length})")
        elif bc.dim() == 4:
            if bc.shape[0] != batch or bc.shape[2:] != (state, length):
                raise _shape_error(name, bc.shape, f"grouped ({batch}, G, {state}, {length})")
            if channels % bc.shape[1]:
                raise ValueError(
                    f"selective_scan: `{name}` has G={bc.shape[1]} groups but D={channels} channels; "
                    f"D must be divisible by G (channel d uses group d // (D / G)).")
        else:
            raise _shape_error(name, bc.shape, f"({batch}, {state}, {length}) or ({batch}, G, {state}, {length})")
    for name, vec in (("D", D), ("delta_bias", delta_bias)):
        if vec is not None and vec.shape != (channels,):
            raise _shape_error(name, vec.shape, f"({channels},)")
    if z is not None and z.shape != u.shape:
        raise _shape_error("z", z.shape, f"{tuple(u.shape)} like u")
    if check_finite and not bool(torch.isfinite(delta).all()):
        raise ValueError("selective_scan: `delta` contains NaN or Inf; check the dt projection and its inputs "
                         "(or the learning rate) upstream of the scan.")


def _auto_backend(u: torch.Tensor, C: Optional[torch.Tensor], state: int) -> str:
    """Triton on CUDA; on CPU the fused numba kernels when numba is installed (and, for the hidden-state output
    C=None, d_state is 1), else torch. ``VISIONSSM_CPU_SCAN=torch`` keeps CPU calls on the PyTorch path."""
    if u.device.type == "cuda" and _triton_usable(u.device):
        return "triton"
    if (u.device.type == "cpu" and (C is not None or state == 1)
            and os.environ.get("VISIONSSM_CPU_SCAN", "numba") != "torch" and _numba_usable()):
        from .numba_scan import numba_compiles
        if numba_compiles():
            return "numba"
    return "torch"


def selective_scan(
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
        *,
        out_dtype: Optional[torch.dtype] = None,
        backend: str = "auto",
        check_finite: Optional[bool] = None,
):
    """Selective scan (S6), mamba_ssm-compatible.

    Args:
        u, delta: (batch, D, L).
        A: (D, N) float32, usually ``-exp(A_log)``.
        B, C: (batch, N, L), or grouped (batch, G, N, L) where channel d uses group d // (D / G).
            ``C=None`` returns the hidden states (batch, D, N, L) instead of y (Spatial-Mamba).
        D, delta_bias: (D,) or None.  z: (batch, D, L) gate or None.
        delta_softplus: apply softplus to delta + delta_bias.
        return_last_state: also return the final state (batch, D, N) in float32.
        out_dtype: output dtype; default the dtype of ``u``. ``torch.float32`` keeps half inputs from
            overflowing (VMamba's "oflex" fix for AMP NaNs). Accumulation is always float32.
        backend: "auto" (triton on CUDA; numba on CPU when installed, except C=None with d_state > 1; torch
            otherwise), "ref", "torch", "numba" or "triton".
        check_finite: reject non-finite delta. Default: on for CPU tensors, off on CUDA, where the check
            would force a device synchronisation.
    """
    if _FORCED_BACKEND is not None:
        backend = _FORCED_BACKEND
    if backend not in BACKENDS:
        raise ValueError(f"selective_scan: unknown backend {backend!r}; choose one of {BACKENDS}.")
    if check_finite is None:
        check_finite = u.device.type != "cuda"
    _check_inputs(u, delta, A, B, C, D, z, delta_bias, check_finite)
    if u.shape[2] == 0:  # nothing to scan: empty output, zero state (the same for every backend)
        batch, channels, _ = u.shape
        shape = (batch, channels, A.shape[1], 0) if C is None else (batch, channels, 0)
        out = u.new_zeros(shape, dtype=out_dtype or u.dtype)
        return (out, u.new_zeros(batch, channels, A.shape[1], dtype=torch.float32)) if return_last_state else out
    if backend == "auto":
        backend = _auto_backend(u, C, A.shape[1])
    if backend == "ref":
        from .ref import selective_scan_ref as impl
    elif backend == "torch":
        from .torch_scan import selective_scan_torch as impl
    elif backend == "export":
        from .export_scan import selective_scan_export as impl
    elif backend == "numba":
        from .numba_scan import selective_scan_numba as impl
    else:
        if not _triton_usable(u.device):
            raise RuntimeError("selective_scan: backend='triton' needs a CUDA tensor and the `triton` package "
                               "(or TRITON_INTERPRET=1 set before triton is imported, for CPU testing). "
                               "Use backend='torch' on this device.")
        from .triton_scan import selective_scan_triton as impl
    if SCAN_HOOKS:
        info = {"batch": u.shape[0], "channels": u.shape[1], "length": u.shape[2], "state": A.shape[1],
                "groups": B.shape[1] if B.dim() == 4 else 1, "has_C": C is not None, "has_D": D is not None,
                "has_z": z is not None, "backend": backend}
        with contextlib.ExitStack() as stack:
            for hook in list(SCAN_HOOKS):
                cm = hook(info)
                if cm is not None:
                    stack.enter_context(cm)
            return impl(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, out_dtype=out_dtype)
    return impl(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, out_dtype=out_dtype)


def selective_scan_flops(batch: int, length: int, channels: int, state: int, with_D: bool = True, with_z: bool = False) -> int:
    """FLOPs of one scan by VMamba's convention: 9·B·L·D·N (+ B·D·L for D, + B·D·L for z)."""
    flops = 9 * batch * length * channels * state
    if with_D:
        flops += batch * channels * length
    if with_z:
        flops += batch * channels * length
    return flops
