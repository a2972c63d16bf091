"""Registry of 2D scan strategies (token orders): ``register_scan``, ``build_scan``, ``list_scans``."""
from typing import Callable, Dict, List, Type

_SCANS: Dict[str, type] = {}
# names users meet in configs that are not scan orders, and where they live instead
_NOT_SCANS = {"ncssd": "'ncssd' is VSSD's non-causal SSD token mixer, not a scan order: it has no token order to "
                       "plug into a scan layer; use visionssm.layers.ncssd.NonCausalSSD (VSSD's scan='ncssd')."}


def register_scan(name: str) -> Callable[[Type], Type]:
    """Class decorator: make a strategy buildable by ``name`` (in Python, timm kwargs and configs)."""
    def wrap(cls: Type) -> Type:
        if name in _SCANS and _SCANS[name] is not cls:
            raise ValueError(f"scan {name!r} is already registered by {_SCANS[name].__module__}.{_SCANS[name].__name__}")
        cls.scan_name = name
        _SCANS[name] = cls
        return cls
    return wrap


def _ensure_builtin() -> None:
    from . import builtin  # noqa: F401  (importing registers every shipped strategy)


def list_scans() -> List[str]:
    """Names of all registered strategies, sorted."""
    _ensure_builtin()
    return sorted(_SCANS)


def get_scan_class(name: str) -> type:
    _ensure_builtin()
    if name not in _SCANS:
        if name in _NOT_SCANS:
            raise ValueError(_NOT_SCANS[name])
        raise KeyError(f"unknown scan {name!r}; registered scans are: {', '.join(sorted(_SCANS))}. "
                       f"Register a new one with @visionssm.scans.register_scan(name).")
    return _SCANS[name]


def build_scan(name, **kwargs):
    """Build a strategy by name; an existing strategy instance is returned unchanged."""
    if not isinstance(name, str):
        return name
    return get_scan_class(name)(**kwargs)
