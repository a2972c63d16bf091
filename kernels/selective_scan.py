"""Public selective-scan function, argument checks, backend dispatch and the ``visionssm::`` PyTorch operator.

Semantics (channel d of D, state n, step t)::

    Δ_t = softplus(δ_t + δ_bias) if delta_softplus else δ_t + δ_bias
    h_t = exp(Δ_t·A[d, n])·h_{t-1} + Δ_t·B_t[n]·u_t
    y_t = Σ_n C_t[n]·h_t[n] + D[d]·u_t ;  y_t ← y_t·silu(z_t) if z is given

The signature follows mamba_ssm's ``selective_scan_fn`` so code can switch between the two.

The scan is registered as ``torch.ops.visionssm.selective_scan`` (+ ``selective_scan_bwd``) so that
torch.compile, torch.export and AOTAutograd see one opaque node with a shape function instead of tracing
(and breaking on) the backends' Python. Eager calls run the backend directly (no dispatcher overhead, and
training keeps what the backend's autograd Function saves); the operator's backward recomputes the backend's
forward once and runs that backend's own backward, so gradients are the backend's numerics either way.
"""
import contextlib
import importlib
import os
from typing import Callable, Dict, List, Optional, Tuple

import torch

BACKENDS = ("auto", "ref", "torch", "numba", "triton", "export")

# backend name -> (module inside this package, function). Looked up at every call (not bound at import), so a
# caller that swaps a module attribute (the FLOP counter's shape-only stub) reaches every path, the operator's too.
_IMPLS: Dict[str, Tuple[str, str]] = {
    "ref": ("ref", "selective_scan_ref"),
    "torch": ("torch_scan", "selective_scan_torch"),
    "numba": ("numba_scan", "selective_scan_numba"),
    "triton": ("triton_scan", "selective_scan_triton"),
    "export": ("export_scan", "selective_scan_export"),
}
# backends made of plain torch ops that tracing should see (called inline, not through the opaque operator):
# the ONNX exporter needs the scan's ops themselves in the graph.
INLINE_BACKENDS = ("export",)

# Observers of every eager call (the FLOP counter in visionssm.benchmark uses this). Each is called as
# ``hook(info)`` with a dict of shapes (batch, channels, length, state, groups, has_C, has_D, has_z, backend)
# and may return a context manager entered around the computation. Empty list: one truthiness test per call.
# Not called while torch.compile/torch.export trace (a hook is Python with side effects).
SCAN_HOOKS: List[Callable[[dict], Optional[contextlib.AbstractContextManager]]] = []

# Environment settings, read once (first call) and cached: a per-call ``os.environ`` read costs time on the hot
# path and is a guard under torch.compile. ``_SETTINGS = None`` makes the next call read them again.
_SETTINGS: Optional[Dict[str, object]] = None
# Backend every call uses while set by ``scan_implementation`` / ``set_scan_implementation``.
_FORCED: Optional[str] = None


def _settings() -> Dict[str, object]:
    global _SETTINGS
    if _SETTINGS is None:
        _SETTINGS = {
            "cpu_scan": os.environ.get("VISIONSSM_CPU_SCAN", "numba"),
            "check_finite": os.environ.get("VISIONSSM_CHECK_FINITE", "0").lower() in ("1", "true", "yes"),
            "triton_interpret": os.environ.get("TRITON_INTERPRET", "0") == "1",
        }
    return _SETTINGS


def backend_function(name: str) -> Callable:
    """The function implementing backend ``name`` (same signature for all: ``(u, delta, A, B, C, D, z,
    delta_bias, delta_softplus, return_last_state, out_dtype=None)``)."""
    if name not in _IMPLS:
        raise ValueError(f"selective_scan: unknown backend {name!r}; choose one of {BACKENDS}.")
    module_name, attr = _IMPLS[name]
    try:
        module = importlib.import_module(f".{module_name}", __package__)
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.{module_name}":
            raise
        raise RuntimeError(f"selective_scan: backend {name!r} needs the module kernels/{module_name}.py, which is "
                           f"not in this installation; use another backend ({', '.join(_IMPLS)}).") from None
    return getattr(module, attr)


def set_scan_implementation(name: Optional[str]) -> None:
    """Make every ``selective_scan`` call use backend ``name``, whatever backend the caller (a layer's
    ``backend=`` argument) asked for; ``None`` restores the callers' choices.

    ``"export"`` selects the pure-PyTorch, ONNX-friendly backend in ``kernels/export_scan.py``; its ops are
    traced into the graph instead of the opaque operator.
    """
    global _FORCED
    if name is not None and (name == "auto" or name not in _IMPLS):
        raise ValueError(f"scan_implementation: unknown backend {name!r}; choose one of {tuple(_IMPLS)} or None.")
    if name is not None:
        backend_function(name)  # fail here, clearly, when the backend's module is missing
    _FORCED = name


def get_scan_implementation() -> Optional[str]:
    """The backend forced by ``set_scan_implementation`` / ``scan_implementation``, or None."""
    return _FORCED


@contextlib.contextmanager
def scan_implementation(name: Optional[str]):
    """Context manager form of ``set_scan_implementation``: ``with scan_implementation("export"): ...``."""
    previous = _FORCED
    set_scan_implementation(name)
    try:
        yield
    finally:
        set_scan_implementation(previous)


force_backend = scan_implementation  # the name the ONNX exporter uses


def _triton_usable(device: torch.device) -> bool:
    if device.type != "cuda" and not _settings()["triton_interpret"]:
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


def _check_inputs(u, delta, A, B, C, D, z, delta_bias):
    """Shape and dtype checks: static under tracing (no tensor values are read)."""
    for name, t in (("u", u), ("delta", delta), ("A", A), ("B", B), ("C", C), ("D", D), ("z", z),
                    ("delta_bias", delta_bias)):
        if t is not None and not t.dtype.is_floating_point:
            raise TypeError(f"selective_scan: `{name}` has dtype {t.dtype}; the scan takes real floating-point "
                            f"tensors (float32, float16 or bfloat16): convert it with .float().")
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
    if state == 0:
        raise ValueError("selective_scan: `A` has d_state N = 0 (shape "
                         f"{tuple(A.shape)}); the scan needs at least one state per channel (N >= 1).")
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


def _check_finite(delta: torch.Tensor) -> None:
    if not bool(torch.isfinite(delta).all()):
        raise ValueError("selective_scan: `delta` contains NaN or Inf; check the dt projection and its inputs "
                         "(or the learning rate) upstream of the scan.")


def _auto_backend(u: torch.Tensor, C: Optional[torch.Tensor], state: int) -> str:
    """Triton on CUDA; on CPU the fused numba kernels when numba is installed (and, for the hidden-state output
    C=None, d_state is 1), else torch. ``VISIONSSM_CPU_SCAN=torch`` keeps CPU calls on the PyTorch path."""
    if u.device.type == "cuda" and _triton_usable(u.device):
        return "triton"
    if (u.device.type == "cpu" and (C is not None or state == 1)
            and _settings()["cpu_scan"] != "torch" and _numba_usable()):
        from .numba_scan import numba_compiles
        if numba_compiles():
            return "numba"
    return "torch"


def _resolve(backend: str, u: torch.Tensor, C: Optional[torch.Tensor], state: int) -> str:
    if backend == "auto":
        backend = _FORCED or _auto_backend(u, C, state)
    if backend == "triton" and not _triton_usable(u.device):
        raise RuntimeError("selective_scan: backend='triton' needs a CUDA tensor and the `triton` package "
                           "(or TRITON_INTERPRET=1 set before triton is imported, for CPU testing). "
                           "Use backend='torch' on this device.")
    return backend


def _run_backend(backend, u, delta, A, B, C, D, z, delta_bias, delta_softplus, out_dtype):
    """Run one backend (resolving "auto" now, on concrete tensors) and return ``(out, last_state)``."""
    impl = backend_function(_resolve(backend, u, C, A.shape[1]))
    return impl(u, delta, A, B, C, D, z, delta_bias, delta_softplus, True, out_dtype=out_dtype)


def _empty_like_out(u, A, C, out_dtype):
    batch, channels, length = u.shape
    shape = (batch, channels, A.shape[1], length) if C is None else (batch, channels, length)
    return u.new_empty(shape, dtype=out_dtype or u.dtype), u.new_empty(batch, channels, A.shape[1], dtype=torch.float32)


def _autograd_reenabled():
    """Inside an operator's kernel the dispatcher excludes the autograd keys; the backward's recomputation needs
    them back to record the backend's own autograd Function."""
    keys = torch._C.DispatchKey
    exclude = torch._C._dispatch_tls_local_exclude_set()
    for name in ("AutogradFunctionality", "AutogradOther", "AutogradNestedTensor", "ADInplaceOrView"):
        if hasattr(keys, name) and exclude.has(getattr(keys, name)):
            exclude = exclude.remove(getattr(keys, name))
    return torch._C._ForceDispatchKeyGuard(torch._C._dispatch_tls_local_include_set(), exclude)


GRAD_NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")
HAS_OPERATOR = hasattr(torch, "library") and hasattr(torch.library, "custom_op")

if HAS_OPERATOR:
    @torch.library.custom_op("visionssm::selective_scan", mutates_args=())
    def _scan_op(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: Optional[torch.Tensor],
                 D: Optional[torch.Tensor], z: Optional[torch.Tensor], delta_bias: Optional[torch.Tensor],
                 delta_softplus: bool, out_dtype: Optional[torch.dtype], backend: str
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Forward: always ``(out, last_state)``; the Python wrapper drops last_state when not asked for."""
        with torch.no_grad():
            out, last = _run_backend(backend, u, delta, A, B, C, D, z, delta_bias, delta_softplus, out_dtype)
        return out.clone() if out._base is not None else out, last

    @_scan_op.register_fake
    def _scan_fake(u, delta, A, B, C, D, z, delta_bias, delta_softplus, out_dtype, backend):
        return _empty_like_out(u, A, C, out_dtype)

    @torch.library.custom_op("visionssm::selective_scan_bwd", mutates_args=())
    def _scan_bwd_op(dout: torch.Tensor, dlast: torch.Tensor, u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor,
                     B: torch.Tensor, C: Optional[torch.Tensor], D: Optional[torch.Tensor], z: Optional[torch.Tensor],
                     delta_bias: Optional[torch.Tensor], delta_softplus: bool, out_dtype: Optional[torch.dtype],
                     backend: str) -> List[torch.Tensor]:
        """Gradients (u, delta, A, B, C, D, z, delta_bias), an empty tensor for each absent input: the backend's
        forward is recomputed with autograd on and its own backward run."""
        inputs = (u, delta, A, B, C, D, z, delta_bias)
        with _autograd_reenabled(), torch.enable_grad():
            leaves = [t.detach().requires_grad_() if t is not None else None for t in inputs]
            out, last = _run_backend(backend, *leaves, delta_softplus, out_dtype)
            present = [t for t in leaves if t is not None]
            grads = torch.autograd.grad((out, last), present, (dout, dlast), allow_unused=True)
        grads = iter(grads)
        result = []
        for t in leaves:
            if t is None:
                result.append(u.new_empty(0))
            else:
                g = next(grads)
                result.append(torch.zeros_like(t) if g is None else g.detach().to(t.dtype))
        return result

    @_scan_bwd_op.register_fake
    def _scan_bwd_fake(dout, dlast, u, delta, A, B, C, D, z, delta_bias, delta_softplus, out_dtype, backend):
        return [torch.empty_like(t) if t is not None else u.new_empty(0) for t in (u, delta, A, B, C, D, z, delta_bias)]

    def _setup_context(ctx, inputs, output):
        u, delta, A, B, C, D, z, delta_bias, delta_softplus, out_dtype, backend = inputs
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias)
        ctx.options = (delta_softplus, out_dtype, backend)

    def _backward(ctx, dout, dlast):
        u, delta, A, B, C, D, z, delta_bias = ctx.saved_tensors
        delta_softplus, out_dtype, backend = ctx.options
        if dout is None:
            dout = _empty_like_out(u, A, C, out_dtype)[0].zero_()
        if dlast is None:
            dlast = u.new_zeros(u.shape[0], u.shape[1], A.shape[1], dtype=torch.float32)
        grads = torch.ops.visionssm.selective_scan_bwd(dout, dlast, u, delta, A, B, C, D, z, delta_bias,
                                                       delta_softplus, out_dtype, backend)
        grads = [g if t is not None and need else None
                 for g, t, need in zip(grads, (u, delta, A, B, C, D, z, delta_bias), ctx.needs_input_grad)]
        return (*grads, None, None, None)

    _scan_op.register_autograd(_backward, setup_context=_setup_context)


def _tracing() -> bool:
    """True while torch.compile / torch.export trace (where the opaque operator must be used)."""
    compiler = getattr(torch, "compiler", None)
    if compiler is None:
        return False
    if compiler.is_compiling():
        return True
    is_exporting = getattr(compiler, "is_exporting", None)
    return bool(is_exporting is not None and is_exporting())


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
        u, delta: (batch, D, L), floating point.
        A: (D, N) float32, usually ``-exp(A_log)``; N >= 1.
        B, C: (batch, N, L), or grouped (batch, G, N, L) where channel d uses group d // (D / G).
            ``C=None`` returns the hidden states (batch, D, N, L) instead of y (Spatial-Mamba).
        D, delta_bias: (D,) or None.  z: (batch, D, L) gate or None.
        delta_softplus: apply softplus to delta + delta_bias.
        return_last_state: also return the final state (batch, D, N) in float32.
        out_dtype: output dtype; default the dtype of ``u``. ``torch.float32`` keeps half inputs from
            overflowing (VMamba's "oflex" fix for AMP NaNs). Accumulation is always float32.
        backend: "auto" (triton on CUDA, numba on CPU
            when installed (except C=None with d_state > 1), torch otherwise), "ref", "torch", "numba",
            "triton" or "export". ``scan_implementation(name)`` overrides it for every call.
        check_finite: reject non-finite delta (a debugging aid: it reads the tensor, a host sync). Default off;
            ``VISIONSSM_CHECK_FINITE=1`` turns it on for every eager call. Never done while tracing.
    """
    if backend not in BACKENDS:
        raise ValueError(f"selective_scan: unknown backend {backend!r}; choose one of {BACKENDS}.")
    _check_inputs(u, delta, A, B, C, D, z, delta_bias)
    tracing = _tracing()
    if check_finite is None:
        check_finite = bool(_settings()["check_finite"])
    if check_finite and not tracing:
        _check_finite(delta)
    if u.shape[2] == 0:  # nothing to scan: empty output, zero state (the same for every backend)
        out, last = _empty_like_out(u, A, C, out_dtype)
        out, last = out.zero_(), last.zero_()
        return (out, last) if return_last_state else out
    if _FORCED is not None:
        backend = _FORCED
    if tracing or not HAS_OPERATOR:
        if backend in INLINE_BACKENDS or not HAS_OPERATOR:
            result = backend_function(_resolve(backend, u, C, A.shape[1]))(
                u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, out_dtype=out_dtype)
            return result
        out, last = torch.ops.visionssm.selective_scan(u, delta, A, B, C, D, z, delta_bias, bool(delta_softplus),
                                                       out_dtype, backend)
        return (out, last) if return_last_state else out
    backend = _resolve(backend, u, C, A.shape[1])
    with contextlib.ExitStack() as stack:
        if SCAN_HOOKS:
            info = {"batch": u.shape[0], "channels": u.shape[1], "length": u.shape[2], "state": A.shape[1],
                    "groups": B.shape[1] if B.dim() == 4 else 1, "has_C": C is not None, "has_D": D is not None,
                    "has_z": z is not None, "backend": backend}
            for hook in list(SCAN_HOOKS):
                cm = hook(info)
                if cm is not None:
                    stack.enter_context(cm)
        return backend_function(backend)(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state,
                                         out_dtype=out_dtype)


def selective_scan_flops(batch: int, length: int, channels: int, state: int, with_D: bool = True, with_z: bool = False,
                         with_C: bool = True) -> int:
    """FLOPs of one scan by VMamba's convention (``kernels/_common.scan_flops``): 9·B·L·D·N (+ B·D·L for D, + B·D·L
    for z); 7·B·L·D·N for the hidden-state output (``with_C=False``)."""
    from ._common import scan_flops
    return scan_flops(batch, length, channels, state, with_C=with_C, with_D=with_D, with_z=with_z)


try:  # a leaf for torch.fx (timm's fx feature extraction): the op's argument checks read shapes
    from timm.layers import register_notrace_function
except ImportError:  # timm is optional for the op itself
    pass
else:
    register_notrace_function(selective_scan)
