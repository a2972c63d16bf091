"""Building blocks shared by every backbone family."""
from .ssm import DirectionalSSM, resolve_dt_rank

__all__ = ["DirectionalSSM", "resolve_dt_rank"]
