"""The one way from a ``scan=`` argument (a registered name or a strategy instance) to the strategy a layer runs.

``get_scan`` builds or checks one strategy; ``ScanSource`` hands the layers of one model their strategies,
sharing a stateless one (so the model has one order cache) and giving each layer its own copy of a strategy
with weights. Layers (``SS2D``, Vim's sequence mixer) call ``get_scan`` only when given a name.
"""
import copy
import inspect
from typing import Any, Dict, Optional, Union

from .base import ScanStrategy
from .registry import build_scan, get_scan_class

ScanArg = Union[str, ScanStrategy]


def takes_width(cls: type) -> bool:
    """Whether a strategy's constructor takes the scanned map's channel count ``d_inner`` (it owns per-channel
    weights, e.g. ``multiscale``, ``spatial_fusion``)."""
    return "d_inner" in inspect.signature(cls.__init__).parameters


def get_scan(scan: ScanArg, scan_kwargs: Optional[Dict[str, Any]] = None, d_inner: Optional[int] = None
             ) -> ScanStrategy:
    """A strategy from a registered name (+ ``scan_kwargs``) or an instance (returned unchanged).

    A strategy whose constructor takes ``d_inner`` gets ``d_inner`` unless ``scan_kwargs`` sets it.
    """
    if isinstance(scan, str):
        kwargs = dict(scan_kwargs or {})
        if d_inner is not None and "d_inner" not in kwargs and takes_width(get_scan_class(scan)):
            kwargs["d_inner"] = d_inner
        return build_scan(scan, **kwargs)
    if scan_kwargs:
        raise ValueError("scan_kwargs is only used with a scan name; configure the strategy instance instead.")
    if not isinstance(scan, ScanStrategy):
        raise TypeError(f"scan must be a registered scan name or a visionssm.scans.ScanStrategy, "
                        f"got {type(scan).__name__}")
    return scan


class ScanSource:
    """Strategies for the layers of one model, from one ``scan`` / ``scan_kwargs`` pair.

    A strategy without parameters, buffers or a width argument is built once and shared; a strategy with its
    own weights is built (name) or deep-copied (instance) for every call, i.e. every layer.
    """

    def __init__(self, scan: ScanArg = "cross", scan_kwargs: Optional[Dict[str, Any]] = None):
        self.scan, self.scan_kwargs = scan, scan_kwargs
        self._shared: Optional[ScanStrategy] = None

    def __call__(self, d_inner: Optional[int] = None) -> ScanStrategy:
        """The strategy for one layer whose scanned map has ``d_inner`` channels."""
        if self._shared is not None:
            return self._shared
        strategy = get_scan(self.scan, self.scan_kwargs, d_inner)
        stateful = any(True for _ in strategy.parameters()) or any(True for _ in strategy.buffers())
        width = isinstance(self.scan, str) and takes_width(type(strategy))
        if not stateful and not width:
            self._shared = strategy
        elif not isinstance(self.scan, str):
            strategy = copy.deepcopy(strategy)
        return strategy
