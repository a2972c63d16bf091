"""The one selective-scan op of visionssm, shipped as ``visionssm.kernels``.

``selective_scan`` is call-compatible with mamba_ssm's ``selective_scan_fn`` and dispatches to one of
three backends: ``ref`` (the loop that defines the maths), ``torch`` (fast, vectorised, any device)
and ``triton`` (fused forward/backward kernels for CUDA).
"""
from .selective_scan import BACKENDS, available_backends, selective_scan, selective_scan_flops

__all__ = ["BACKENDS", "available_backends", "selective_scan", "selective_scan_flops"]
