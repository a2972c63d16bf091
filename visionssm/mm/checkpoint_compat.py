"""mmengine 0.10.7 reads checkpoints with ``weights_only=True`` and can still resume its own checkpoints.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``, so its loading follows torch's default, which
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` turns into arbitrary code execution from a crafted file.
:func:`enforce_weights_only` makes every ``torch.load`` of mmengine's checkpoint loaders (local files, URLs,
``open-mmlab://`` ...) pass ``weights_only=True`` explicitly, which that variable cannot override.

Its Runner checkpoints pickle a few non-tensor types (the message hub's ``HistoryBuffer`` and numpy scalars/arrays in logged values and meta), which the safe
unpickler rejects. Instead of turning safe loading off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``) we allow-list
exactly those types with ``torch.serialization.add_safe_globals``; everything else stays forbidden.

``HistoryBuffer`` also pickles its class-level statistics methods as ``getattr(HistoryBuffer, 'min')``;
allowing ``getattr`` would open the unpickler to arbitrary attribute access, so instead checkpoints written
after ``import visionssm.mm`` leave those methods out (``__setstate__`` re-registers the defaults on load,
and custom ones are class-level, registered when their module is imported). Checkpoints written by an
unpatched mmengine that carry such methods are refused; their weights can be re-saved where they were written.
"""
from typing import List

import numpy as np
import torch

__all__ = ["allow_mmengine_checkpoints", "enforce_weights_only", "mmengine_safe_globals"]


def mmengine_safe_globals() -> List[object]:
    """The types an mmengine Runner checkpoint contains besides tensors and builtin containers."""
    from mmengine.logging.history_buffer import HistoryBuffer

    types: List[object] = [HistoryBuffer, np.ndarray, np.dtype]
    try:  # numpy >= 1.25 / 2.x
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # older numpy
        from numpy.core.multiarray import _reconstruct, scalar
    types += [_reconstruct, scalar]
    # numpy 2 pickles dtypes as their class (np.dtypes.Float64DType, ...)
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        types += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return types


def _history_buffer_getstate(self) -> dict:
    state = dict(self.__dict__)
    state.pop("statistics_methods", None)
    state.pop("_statistics_methods", None)
    return state


def allow_mmengine_checkpoints() -> None:
    """Allow-list mmengine's checkpoint types for ``torch.load(weights_only=True)`` (idempotent)."""
    from mmengine.logging.history_buffer import HistoryBuffer

    HistoryBuffer.__getstate__ = _history_buffer_getstate
    add = getattr(torch.serialization, "add_safe_globals", None)
    if add is None:  # torch < 2.4: no allow-list API; our loads still pass weights_only=True
        return
    add(mmengine_safe_globals())


class _WeightsOnlyTorch:
    """``torch`` as mmengine's checkpoint modules see it: ``torch.load`` always passes ``weights_only=True``."""

    def __init__(self, module):
        self._torch = module

    def __getattr__(self, name):
        return getattr(self._torch, name)

    def load(self, *args, **kwargs):
        kwargs["weights_only"] = True
        return self._torch.load(*args, **kwargs)


def _safe_load_url(url, *args, **kwargs):
    """``torch.hub.load_state_dict_from_url`` (mmengine's ``load_url``), whose own default is an unsafe load."""
    kwargs["weights_only"] = True
    return torch.hub.load_state_dict_from_url(url, *args, **kwargs)


def enforce_weights_only() -> None:
    """Every ``torch.load`` in mmengine's checkpoint loaders (files, URLs, ``open-mmlab://`` ...) gets
    ``weights_only=True`` (idempotent)."""
    import mmengine.runner.checkpoint as ckpt_mod

    if not isinstance(ckpt_mod.torch, _WeightsOnlyTorch):
        ckpt_mod.torch = _WeightsOnlyTorch(torch)
    ckpt_mod.load_url = _safe_load_url
