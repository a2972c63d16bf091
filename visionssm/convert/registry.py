"""Per-family converters and ``from_official``: official constructor kwargs + checkpoint → our model.

Each ``visionssm/convert/<family>.py`` registers its official code base(s) with ``register_family``; the table is
filled by importing those modules (all of them on the first lookup), so a new family adds one converter file and
nothing here.
"""
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Optional, Union

from torch import nn

from .common import load_checkpoint_file, load_state_dict_strict, unwrap_state_dict


@dataclass
class FamilyConverter:
    """How one official code base maps onto ours.

    build: official constructor kwargs → our (randomly initialised) model.
    convert: unwrapped official state dict (+ our model, for shapes) → our state dict.
    guess_variant: optional, names the released variant a state dict looks like (for error messages).
    """
    family: str
    build: Callable[[Mapping], nn.Module]
    convert: Callable[[Mapping, nn.Module], Mapping]
    guess_variant: Optional[Callable[[Mapping], str]] = None


_FAMILIES: Dict[str, FamilyConverter] = {}
_DISCOVERED = False
_NOT_FAMILIES = {"common", "registry"}


def register_family(converter: FamilyConverter) -> FamilyConverter:
    """Make ``converter`` available to ``from_official(converter.family, ...)``; a family name is registered once."""
    known = _FAMILIES.get(converter.family)
    if known is not None and known is not converter:
        raise ValueError(f"official family {converter.family!r} is already registered by "
                         f"{getattr(known.build, '__module__', '?')}")
    _FAMILIES[converter.family] = converter
    return converter


def _discover() -> None:
    """Import every converter module of this package (they register their families on import)."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    package = __name__.rsplit(".", 1)[0]
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if not info.name.startswith("_") and info.name not in _NOT_FAMILIES:
            importlib.import_module(f"{package}.{info.name}")
    _DISCOVERED = True


def list_families():
    _discover()
    return sorted(_FAMILIES)


def get_family(family: str) -> FamilyConverter:
    if family not in _FAMILIES:
        _discover()
    if family not in _FAMILIES:
        raise KeyError(f"unknown official family {family!r}; known: {', '.join(list_families())}")
    return _FAMILIES[family]


def from_official(family: str, official_kwargs: Mapping, checkpoint: Union[str, Mapping, None] = None) -> nn.Module:
    """Build our model from the official constructor kwargs and load an official checkpoint into it (strict).

    ``checkpoint`` is a path (``.pth``/``.ckpt``/``.safetensors``), an already loaded dict, or None (random init).
    """
    conv = get_family(family)
    model = conv.build(dict(official_kwargs))
    if checkpoint is not None:
        raw = load_checkpoint_file(checkpoint) if not isinstance(checkpoint, Mapping) else checkpoint
        state_dict = conv.convert(unwrap_state_dict(raw), model)
        source = checkpoint if isinstance(checkpoint, str) else "checkpoint"
        load_state_dict_strict(model, state_dict, source=f"{family} checkpoint {source}", guess_variant=conv.guess_variant)
    return model


def lazy(module: str, name: str) -> Callable:
    """``module.name``, imported on the first call: a converter names its model's builder this way because the model
    file imports the converter (for ``checkpoint_filter_fn``)."""
    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__qualname__ = call.__name__ = f"{module}.{name}"
    return call
