"""Building blocks shared by every backbone family."""
from .norms import LayerNorm2d, channel_norm, nchw_to_nhwc, nhwc_to_nchw, pointwise_linear
from .ss2d import SS2D, resolve_scan
from .ssm import DirectionalSSM, resolve_dt_rank

__all__ = ["DirectionalSSM", "resolve_dt_rank", "SS2D", "resolve_scan", "LayerNorm2d", "channel_norm", "nchw_to_nhwc",
           "nhwc_to_nchw", "pointwise_linear"]
