"""Per-family converters and ``from_official``: official constructor kwargs + checkpoint → our model."""
import importlib
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
# family name (as in shared fixtures' config.json) → module that registers it
_FAMILY_MODULES = {
    "vmamba_v0": "visionssm.models.vmamba", "vmamba_v2": "visionssm.models.vmamba", "vmamba": "visionssm.models.vmamba",
    "vim": "visionssm.models.vim", "efficientvmamba": "visionssm.models.efficient_vmamba",
    "msvmamba": "visionssm.models.msvmamba", "spatial_mamba": "visionssm.models.spatial_mamba",
    "vssd": "visionssm.models.vssd",
}


def register_family(converter: FamilyConverter) -> FamilyConverter:
    _FAMILIES[converter.family] = converter
    return converter


def list_families():
    for module in set(_FAMILY_MODULES.values()):
        importlib.import_module(module)
    return sorted(_FAMILIES)


def get_family(family: str) -> FamilyConverter:
    if family not in _FAMILIES and family in _FAMILY_MODULES:
        importlib.import_module(_FAMILY_MODULES[family])
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
