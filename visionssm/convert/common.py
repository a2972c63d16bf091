"""Shared converter plumbing: safe checkpoint loading, unwrapping official containers, strict loading."""
import collections
import contextlib
import os
from typing import Callable, Dict, Mapping, Optional, Union

import torch
from torch import nn

StateDict = Dict[str, torch.Tensor]

_CONTAINER_KEYS = ("model", "state_dict", "model_ema", "module")


class _InertConfig(dict):
    """Stands in for a pickled config object (yacs ``CfgNode``): unpickled as a plain OrderedDict of values."""

    def __new__(cls, *args, **kwargs):
        return collections.OrderedDict()


class _InertNamespace:
    """Stands in for a pickled ``argparse.Namespace``: attributes only, no behaviour."""


# Official training scripts save their run configuration next to the weights (VMamba: a yacs CfgNode under
# 'config'; Vim: argparse args). torch.load(weights_only=True) refuses those globals; mapping them to inert
# stand-ins keeps loading safe (no code runs) while the weights come through.
OFFICIAL_CONFIG_GLOBALS = [(_InertConfig, "yacs.config.CfgNode"), (_InertNamespace, "argparse.Namespace")]


def allow_official_config_containers() -> None:
    """Let ``torch.load(weights_only=True)`` (ours and timm's pretrained loader) read official release files."""
    torch.serialization.add_safe_globals(OFFICIAL_CONFIG_GLOBALS)


def load_checkpoint_file(path: Union[str, os.PathLike]) -> dict:
    """Load a ``.pth/.pt/.ckpt/.bin`` (``weights_only=True``) or ``.safetensors`` file safely."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        return load_file(path)
    try:
        allow_official_config_containers()  # idempotent; a `safe_globals` context would remove them on exit
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt file, or a pickle that holds more than tensors
        raise RuntimeError(
            f"could not load checkpoint {path} safely ({type(e).__name__}: {e}). visionssm only reads tensors "
            f"(torch.load(weights_only=True) or safetensors); if the file is truncated, download it again; if it "
            f"pickles custom objects, re-save its state_dict with torch.save(ckpt['model'], ...).") from e


def unwrap_state_dict(checkpoint: Mapping) -> StateDict:
    """Take the weights out of an official container (``{'model'}``, ``{'state_dict'}``) and strip ``module.`` prefixes."""
    sd = checkpoint
    for key in _CONTAINER_KEYS:
        if isinstance(sd, Mapping) and key in sd and isinstance(sd[key], Mapping):
            sd = sd[key]
            break
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue
        while k.startswith("module."):
            k = k[len("module."):]
        out[k] = v
    return out


def load_state_dict_strict(model: nn.Module, state_dict: Mapping, source: str = "checkpoint",
                           guess_variant: Optional[Callable[[Mapping], str]] = None) -> None:
    """``load_state_dict(strict=True)`` with an error naming the first missing/unexpected/mis-shaped keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shape = [k for k in own if k in state_dict and tuple(own[k].shape) != tuple(state_dict[k].shape)]
    if missing or unexpected or shape:
        lines = [f"{source} does not match {type(model).__name__}:"]
        if missing:
            lines.append(f"  {len(missing)} missing keys, first: {missing[:5]}")
        if unexpected:
            lines.append(f"  {len(unexpected)} unexpected keys, first: {unexpected[:5]}")
        if shape:
            k = shape[0]
            lines.append(f"  {len(shape)} shape mismatches, first: {k} checkpoint {tuple(state_dict[k].shape)} "
                         f"vs model {tuple(own[k].shape)}")
        if guess_variant is not None:
            with contextlib.suppress(Exception):  # a guess must never hide the real error
                lines.append(f"  the checkpoint looks like: {guess_variant(state_dict)}")
        lines.append("  Build the model that matches the checkpoint (variant name or official kwargs), "
                     "or convert it with visionssm.convert.from_official / tools/convert.py.")
        raise RuntimeError("\n".join(lines))
    model.load_state_dict(state_dict, strict=True)
