"""Building blocks shared by every backbone family."""
from .ncssd import NonCausalSSD
from .norms import LayerNorm2d, channel_norm, nchw_to_nhwc, nhwc_to_nchw, pointwise_linear
from .ss2d import SS2D
from .ssm import DirectionalSSM, resolve_dt_rank

__all__ = ["DirectionalSSM", "resolve_dt_rank", "SS2D", "NonCausalSSD", "LayerNorm2d", "channel_norm", "nchw_to_nhwc",
           "nhwc_to_nchw", "pointwise_linear"]
