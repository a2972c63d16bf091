"""The one selective-scan op of visionssm, shipped as ``visionssm.kernels``.

``selective_scan`` is call-compatible with mamba_ssm's ``selective_scan_fn`` and dispatches to one of
four backends: ``ref`` (the loop that defines the maths), ``torch`` (vectorised PyTorch, any device),
``numba`` (a fused CPU loop compiled by numba, the CPU default when numba is installed) and ``triton`` (fused
forward/backward kernels for CUDA).
"""
from .selective_scan import BACKENDS, available_backends, selective_scan, selective_scan_flops

__all__ = ["BACKENDS", "available_backends", "selective_scan", "selective_scan_flops"]
