"""Full-model checkpoints for evaluation, inference, resuming and fine-tuning: read safely, loaded strictly.

A full checkpoint holds every weight, so a model built to receive one needs no backbone download
(:func:`without_backbone_weights`). Evaluation, inference and resuming load strictly: a checkpoint of other widths
or with a stage missing is an error naming the keys, never a metric from a half-random model. Fine-tuning
(``load_from``) loads what matches, names what did not, and refuses a checkpoint that matches nothing.
"""
import logging
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

__all__ = ["CheckpointError", "CheckpointMismatchError", "init_model_from_checkpoint", "load_model_checkpoint",
           "normalise_checkpoint", "read_checkpoint",
           "without_backbone_weights"]

_REVISE_KEYS: Sequence[Tuple[str, str]] = ((r"^module\.", ""),)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read safely, or whose weights do not fit the model."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint's weights do not fit the model built from the config."""


def without_backbone_weights(model_cfg: Any) -> Any:
    """Turn off every pretrained-weight source in a model config (in place; returns it).

    ``pretrained=True`` → False, ``pretrained='<path>'`` → None, ``init_cfg=dict(type='Pretrained', ...)`` → None
    and ``official=dict(checkpoint=...)`` → no checkpoint, at any depth: the full checkpoint loaded afterwards
    replaces those weights anyway, and building must work offline.
    """
    if isinstance(model_cfg, (list, tuple)):
        for v in model_cfg:
            without_backbone_weights(v)
        return model_cfg
    if not isinstance(model_cfg, Mapping):
        return model_cfg
    if "pretrained" in model_cfg:
        model_cfg["pretrained"] = False if isinstance(model_cfg["pretrained"], bool) else None
    init = model_cfg.get("init_cfg")
    if isinstance(init, Mapping) and init.get("type") == "Pretrained":
        model_cfg["init_cfg"] = None
    elif isinstance(init, (list, tuple)):
        model_cfg["init_cfg"] = [c for c in init if not (isinstance(c, Mapping) and c.get("type") == "Pretrained")]
    official = model_cfg.get("official")
    if isinstance(official, Mapping) and official.get("checkpoint"):
        official["checkpoint"] = None
    for k, v in model_cfg.items():
        if k != "init_cfg":
            without_backbone_weights(v)
    return model_cfg


def read_checkpoint(filename: str, map_location: Union[str, torch.device, None] = "cpu") -> Dict[str, Any]:
    """A checkpoint file or URL as a dict, through mmengine's loaders with ``weights_only=True`` enforced
    (:mod:`.checkpoint_compat`); ``.safetensors`` files through safetensors."""
    if str(filename).endswith(".safetensors"):
        from visionssm.convert import load_checkpoint_file
        return load_checkpoint_file(filename)
    from mmengine.runner.checkpoint import _load_checkpoint

    from .checkpoint_compat import allow_mmengine_checkpoints, enforce_weights_only
    allow_mmengine_checkpoints()
    enforce_weights_only()
    if not str(filename).startswith(("http://", "https://", "open-mmlab://", "openmmlab://", "torchvision://",
                                     "modelzoo://", "mmcls://", "pavi://", "s3://")) and not os.path.isfile(filename):
        raise FileNotFoundError(f"checkpoint {filename} not found")
    try:
        ckpt = _load_checkpoint(filename, map_location=map_location)
    except Exception as e:
        raise CheckpointError(f"could not load checkpoint {filename} safely ({type(e).__name__}: {str(e)[:300]}). "
                           "visionssm reads checkpoints with torch.load(weights_only=True): tensors, containers "
                           "and mmengine's logged values only. If it pickles other objects, re-save only its "
                           "weights (torch.save(model.state_dict(), path)) where it was written.") from e
    if not isinstance(ckpt, Mapping):
        raise CheckpointError(f"checkpoint {filename} holds a {type(ckpt).__name__}, not a dict of weights")
    return dict(ckpt)


def _state_dict_of(ckpt: Mapping, revise_keys: Sequence[Tuple[str, str]]) -> Dict[str, torch.Tensor]:
    sd = ckpt.get("state_dict", ckpt) if isinstance(ckpt.get("state_dict"), Mapping) else ckpt
    for key in ("model", "model_ema"):
        if sd is ckpt and isinstance(ckpt.get(key), Mapping):
            sd = ckpt[key]
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue
        for pattern, repl in revise_keys:
            k = re.sub(pattern, repl, k)
        out[k] = v
    return out


def _common_prefix(keys: Sequence[str]) -> str:
    first = {k.split(".", 1)[0] for k in keys}
    return f"{first.pop()}." if len(first) == 1 else ""


def _adapt_prefix(sd: Dict[str, torch.Tensor], own: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """A bare timm/backbone state dict for a wrapper whose weights all live under one prefix (``model.``)."""
    prefix = _common_prefix(list(own))
    if prefix and sd and not any(k.startswith(prefix) for k in sd) and all(prefix + k in own for k in sd):
        return {prefix + k: v for k, v in sd.items()}
    return sd


def _mismatch(own: Mapping[str, torch.Tensor], sd: Mapping[str, torch.Tensor]):
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shape = [k for k in own if k in sd and tuple(own[k].shape) != tuple(sd[k].shape)]
    return missing, unexpected, shape


def _describe(missing: List[str], unexpected: List[str], shape: List[str], own, sd, n: int = 5) -> List[str]:
    lines = []
    if missing:
        lines.append(f"{len(missing)} missing keys, first: {missing[:n]}")
    if unexpected:
        lines.append(f"{len(unexpected)} unexpected keys, first: {unexpected[:n]}")
    if shape:
        k = shape[0]
        lines.append(f"{len(shape)} shape mismatches, first: {k} checkpoint {tuple(sd[k].shape)} vs model "
                     f"{tuple(own[k].shape)}")
    return lines


def _unwrap(model: nn.Module) -> nn.Module:
    if hasattr(model, "module") and not isinstance(model, nn.Sequential) and isinstance(model.module, nn.Module):
        return model.module  # DDP / MMDistributedDataParallel
    return model


def normalise_checkpoint(ckpt: Mapping, model: nn.Module,
                         revise_keys: Sequence[Tuple[str, str]] = _REVISE_KEYS) -> Dict[str, Any]:
    """The checkpoint with ``state_dict`` holding its weights under the model's names (``module.`` stripped, a bare
    timm state dict given the wrapper's prefix), as mmengine's hooks (EMA) expect."""
    ckpt = dict(ckpt)
    ckpt["state_dict"] = _adapt_prefix(_state_dict_of(ckpt, revise_keys), _unwrap(model).state_dict())
    return ckpt


def load_model_checkpoint(model: nn.Module, filename: str, *, strict: bool = True, checkpoint: Optional[Mapping] = None,
                          revise_keys: Sequence[Tuple[str, str]] = _REVISE_KEYS,
                          logger: Optional[logging.Logger] = None) -> Dict[str, Any]:
    """Load a full-model checkpoint (mmengine Runner, a bare state dict, ``{'model': ...}``) into ``model``.

    ``strict=True`` (evaluation, inference, resume): every key must be present with its shape, and nothing extra,
    or :class:`CheckpointMismatchError` names the first missing / unexpected / mis-shaped keys.
    ``strict=False`` (fine-tuning): loads the keys that match by name and shape, logs every key left out
    (both directions), and raises when no key matched. Returns the checkpoint dict (meta, optimizer ...).
    """
    model = _unwrap(model)
    ckpt = normalise_checkpoint(dict(checkpoint) if checkpoint is not None else read_checkpoint(filename), model,
                                revise_keys)
    own = model.state_dict()
    sd = ckpt["state_dict"]
    missing, unexpected, shape = _mismatch(own, sd)
    log = logger or logging.getLogger("visionssm")
    if strict:
        if missing or unexpected or shape:
            lines = [f"checkpoint {filename} does not match the model {type(model).__name__} built from the config:"]
            lines += ["  " + s for s in _describe(missing, unexpected, shape, own, sd)]
            lines.append("  Use the config the checkpoint was trained with (same variant, widths and heads).")
            raise CheckpointMismatchError("\n".join(lines))
        model.load_state_dict(sd, strict=True)
        return ckpt
    loadable = {k: v for k, v in sd.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
    if not loadable:
        lines = [f"load_from={filename}: no weight of the checkpoint fits the model {type(model).__name__} "
                 f"(it has {len(sd)} tensors, the model {len(own)}):"]
        lines += ["  " + s for s in _describe(missing, unexpected, shape, own, sd)]
        lines.append("  Point load_from at a checkpoint of this model (a backbone-only checkpoint belongs in the "
                     "backbone's init_cfg=dict(type='Pretrained', checkpoint=...)).")
        raise CheckpointMismatchError("\n".join(lines))
    model.load_state_dict(loadable, strict=False)
    not_loaded = [k for k in own if k not in loadable]
    unused = [k for k in sd if k not in loadable]
    msg = f"load_from={filename}: loaded {len(loadable)}/{len(own)} model tensors"
    if not_loaded or unused:
        msg += (f"; {len(not_loaded)} model tensors keep their initialisation: {not_loaded}; "
                f"{len(unused)} checkpoint tensors unused (missing in the model or of another shape): {unused}")
        log.warning(msg)
    else:
        log.info(msg)
    return ckpt


def _dataset_meta(cfg, ckpt: Mapping) -> Optional[dict]:
    meta = ckpt.get("meta") or {}
    if isinstance(meta.get("dataset_meta"), Mapping):
        return dict(meta["dataset_meta"])
    if "CLASSES" in meta:
        out = {"classes": meta["CLASSES"]}
        if "PALETTE" in meta:
            out["palette"] = meta["PALETTE"]
        return out
    ds = ((cfg.get("test_dataloader") or {}).get("dataset") or {})
    from mmengine.registry import DATASETS
    try:
        cls = DATASETS.get(ds.get("type")) if ds.get("type") else None
    except Exception:  # an unregistered dataset type: fall back to the config's metainfo below
        cls = None
    out = dict(getattr(cls, "METAINFO", {}) or {})
    out.update(ds.get("metainfo") or {})
    return out or None


def init_model_from_checkpoint(config: Any, checkpoint: str, device: Union[str, torch.device] = "cpu",
                               scope: Optional[str] = None) -> nn.Module:
    """Build the config's model without backbone weights, load the full ``checkpoint`` strictly, evaluation mode.

    The inference counterpart of mmdet's ``init_detector`` / mmseg's ``init_model`` (which download ImageNet
    weights first and then load non-strictly). ``model.cfg`` is the config; ``model.dataset_meta`` comes from the
    checkpoint's meta, else from the test dataset's class.
    """
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, DefaultScope, init_default_scope

    cfg = Config.fromfile(str(config)) if not isinstance(config, Config) else config
    without_backbone_weights(cfg.model)
    scope = cfg.get("default_scope", scope) or scope
    if scope:
        init_default_scope(scope)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    model = revert_sync_batchnorm(model)
    ckpt = load_model_checkpoint(model, str(checkpoint), strict=True)
    meta = _dataset_meta(cfg, ckpt)
    if meta is not None:
        model.dataset_meta = meta
    model.cfg = cfg
    return model.to(device).eval()
