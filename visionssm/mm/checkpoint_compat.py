"""Let mmengine 0.10.7 resume its own checkpoints under torch's ``weights_only=True`` default (torch >= 2.6).

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; its Runner checkpoints pickle a few non-tensor
types (the message hub's ``HistoryBuffer`` and numpy scalars/arrays in logged values and meta), which the safe
unpickler rejects. Instead of turning safe loading off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``) we allow-list
exactly those types with ``torch.serialization.add_safe_globals``; everything else stays forbidden.

``HistoryBuffer`` also pickles its class-level statistics methods as ``getattr(HistoryBuffer, 'min')``;
allowing ``getattr`` would open the unpickler to arbitrary attribute access, so instead checkpoints written
after ``import visionssm.mm`` leave those methods out (``__setstate__`` re-registers the defaults on load,
and custom ones are class-level, registered when their module is imported). Checkpoints written by an
unpatched mmengine still need a trusted ``weights_only=False`` load.
"""
from typing import List

import numpy as np
import torch

__all__ = ["allow_mmengine_checkpoints", "mmengine_safe_globals"]


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
    if add is None:  # torch < 2.4 loads with weights_only=False by default: nothing to do
        return
    add(mmengine_safe_globals())
