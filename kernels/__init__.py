"""The one selective-scan op of visionssm, shipped as ``visionssm.kernels``.

``selective_scan`` is call-compatible with mamba_ssm's ``selective_scan_fn`` and dispatches to one of
the backends: ``ref`` (the loop that defines the maths), ``torch`` (vectorised PyTorch, any device),
``numba`` (a fused CPU loop compiled by numba, the CPU default when numba is installed), ``triton`` (fused
forward/backward kernels for CUDA) and ``export`` (pure PyTorch for ONNX export, ``kernels/export_scan.py``).
The scan is also the PyTorch operator ``torch.ops.visionssm.selective_scan`` (with a backward op), which is what
torch.compile and torch.export see; ``scan_implementation(name)`` (alias ``force_backend``) makes every call use
one backend.
"""
from .selective_scan import (
    BACKENDS,
    available_backends,
    backend_function,
    force_backend,
    get_scan_implementation,
    scan_implementation,
    selective_scan,
    selective_scan_flops,
    set_scan_implementation,
)

__all__ = ["BACKENDS", "available_backends", "backend_function", "force_backend", "get_scan_implementation", "scan_implementation",
           "selective_scan", "selective_scan_flops", "set_scan_implementation"]
