"""Shared converter plumbing: safe checkpoint loading, unwrapping official containers, strict loading."""
import collections
import contextlib
import os
from typing import Any, Callable, Collection, Dict, Mapping, Optional, Tuple, Union

import torch
from torch import nn

StateDict = Dict[str, torch.Tensor]


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used: unreadable, wrong keys or shapes, non-float or non-finite weights.
    The message is one line naming the file (and the first bad key or tensor) and the fix; command-line tools print
    it without a traceback."""

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
        try:
            return load_file(path)
        except Exception as e:  # SafetensorError (truncated header or data), OSError
            raise CheckpointError(f"could not read {path} as safetensors ({type(e).__name__}: {e}); the file is truncated "
                               f"or not a safetensors file: download or convert it again") from e
    try:
        allow_official_config_containers()  # idempotent; a `safe_globals` context would remove them on exit
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt file, or a pickle that holds more than tensors
        raise CheckpointError(
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


def check_weight_values(model: nn.Module, state_dict: Mapping, source: str = "checkpoint") -> None:
    """Refuse integer / bool / complex tensors for floating-point weights and NaN / Inf weights, naming the first.

    ``load_state_dict`` would cast integers silently and keep NaN, and the failure would only show at the first
    forward, far from its cause; a load-time check (one pass over the weights) names the file and the tensor.
    """
    own = model.state_dict()
    for k, v in state_dict.items():
        target = own.get(k)
        if not isinstance(v, torch.Tensor) or target is None or not target.is_floating_point():
            continue
        if not v.is_floating_point():
            raise CheckpointError(f"{source}: tensor {k!r} is {v.dtype} where {type(model).__name__} has floating-point "
                               f"weights; this is not a weight checkpoint for the model: use the file the training or "
                               f"conversion wrote")
        if not bool(torch.isfinite(v).all()):
            raise CheckpointError(f"{source}: tensor {k!r} holds NaN or Inf values; the checkpoint is corrupt or was saved "
                               f"from a diverged run: use an earlier checkpoint or download it again")


def pretrained_source(model: Optional[nn.Module]) -> str:
    """How errors name the file timm's pretrained loader is reading into ``model`` (its cfg's file, hub id or url)."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    where = cfg.get("file") or cfg.get("hf_hub_id") or cfg.get("url")
    return f"checkpoint {where}" if where else "checkpoint"


def checked_weights(state_dict: Dict[str, torch.Tensor], model: Optional[nn.Module]) -> Dict[str, torch.Tensor]:
    """``state_dict`` after ``check_weight_values`` against ``model`` (skipped without a model): the last step of the
    families' timm ``checkpoint_filter_fn``, so ``pretrained=True`` refuses integer and NaN weights at load."""
    if model is not None:
        check_weight_values(model, state_dict, pretrained_source(model))
    return state_dict


def check_state_dict(model: nn.Module, state_dict: Mapping, source: str = "checkpoint",
                     guess_variant: Union[None, str, Callable[[Mapping], str]] = None,
                     ignore_prefixes: Tuple[str, ...] = (), in_chans_conv: Optional[str] = None) -> None:
    """Raise a one-line error naming the first missing / unexpected / mis-shaped keys when ``state_dict`` does not
    fit, or the first non-float / non-finite weight (``check_weight_values``).

    ``guess_variant``: the variant the checkpoint looks like (a string, or a function of the state dict; a failing
    guess never hides the real error). ``ignore_prefixes``: keys timm's loader drops or adapts itself (the
    classifier when num_classes differs). ``in_chans_conv``: the stem conv whose input channels timm adapts.
    """
    check_weight_values(model, state_dict, source)
    own = model.state_dict()
    kept = [k for k in own if not k.startswith(ignore_prefixes)]
    missing = [k for k in kept if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own and not k.startswith(ignore_prefixes)]
    shape = [k for k in kept if k in state_dict and tuple(own[k].shape) != tuple(state_dict[k].shape)
             and not (k == f"{in_chans_conv}.weight" and own[k].shape[0] == state_dict[k].shape[0])]
    if not (missing or unexpected or shape):
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys, first: {missing[:5]}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys, first: {unexpected[:5]}")
    if shape:
        k = shape[0]
        parts.append(f"{len(shape)} shape mismatches, first: {k} checkpoint {tuple(state_dict[k].shape)} "
                     f"vs model {tuple(own[k].shape)}")
    guess = guess_variant
    if callable(guess_variant):
        guess = None
        with contextlib.suppress(Exception):  # a guess must never hide the real error
            guess = guess_variant(state_dict)
    if guess:
        parts.append(f"the checkpoint looks like: {guess}")
    raise CheckpointError(f"{source} does not match {type(model).__name__} ({'; '.join(parts)}): build the model that "
                       "matches the checkpoint (variant name or official kwargs), or convert an official release with "
                       "visionssm.convert.from_official / tools/convert.py")


def load_state_dict_strict(model: nn.Module, state_dict: Mapping, source: str = "checkpoint",
                           guess_variant: Optional[Callable[[Mapping], str]] = None) -> None:
    """``load_state_dict(strict=True)`` with an error naming the first missing/unexpected/mis-shaped keys."""
    check_state_dict(model, state_dict, source, guess_variant)
    model.load_state_dict(state_dict, strict=True)


def map_official_kwargs(official: Mapping[str, Any], family: str, renames: Mapping[str, str],
                        required: Optional[Mapping[str, Any]] = None, ignored: Collection[str] = (),
                        special: Optional[Mapping[str, Callable[[Any, Dict[str, Any]], None]]] = None
                        ) -> Dict[str, Any]:
    """Official constructor kwargs → ours, for families whose official model takes a flat kwargs list.

    ``renames``: official name → our name (value kept). ``required``: official settings that must hold the
    released value (anything else is another architecture: NotImplementedError). ``ignored``: settings without
    effect on the architecture or the weights. ``special``: official name → ``fn(value, kwargs)`` that fills our
    kwargs (or raises). Any other name raises TypeError naming it.
    """
    required, special = required or {}, special or {}
    kwargs: Dict[str, Any] = {}
    for key, value in official.items():
        if key in renames:
            kwargs[renames[key]] = value
        elif key in required:
            if value != required[key]:
                raise NotImplementedError(f"official {family} kwarg {key}={value!r} is not supported (only "
                                          f"{required[key]!r}, as in the released models)")
        elif key in special:
            special[key](value, kwargs)
        elif key not in ignored:
            raise TypeError(f"unknown official {family} kwarg {key!r}")
    return kwargs
