"""Parameter groups the timm way for any mmengine model: no weight decay on 1-D tensors (norms, biases) and on
the names a timm model lists in ``no_weight_decay()`` (SSM ``A_log``/``D``/dt bias, position embeddings, class
token), plus optional layer-wise lr decay over a timm model's ``group_matcher`` (BEiT style, used by Vim)."""
import fnmatch
from typing import Dict, List, Optional

from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS
from timm.models import group_parameters
from torch import nn

from .registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ["TimmParamGroupsConstructor"]


def _no_decay_names(model: nn.Module) -> set:
    names = set()
    for prefix, m in model.named_modules():
        fn = getattr(m, "no_weight_decay", None)
        if callable(fn):
            for n in fn():
                names.add(f"{prefix}.{n}" if prefix else n)
    return names


def _layer_scales(model: nn.Module, layer_decay: float) -> Dict[str, float]:
    """lr scale per parameter name for every timm model (one with ``group_matcher``) inside ``model``."""
    scales, seen = {}, []
    for prefix, m in model.named_modules():
        if not hasattr(m, "group_matcher") or any(prefix.startswith(p + ".") for p in seen):
            continue
        seen.append(prefix)
        layer_map = group_parameters(m, m.group_matcher(coarse=False), reverse=True)
        num_layers = max(layer_map.values()) + 2  # one more level: necks/heads outside the timm model get scale 1
        for n, lid in layer_map.items():
            scales[f"{prefix}.{n}" if prefix else n] = layer_decay ** (num_layers - 1 - lid)
    return scales


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TimmParamGroupsConstructor:
    """``optim_wrapper=dict(constructor='visionssm.TimmParamGroupsConstructor', optimizer=..., paramwise_cfg=...)``.

    paramwise_cfg keys: ``layer_decay`` (float or None), ``exclude_1d`` (default True: no decay on norms and
    biases, as timm/Swin's ``set_weight_decay``), ``no_decay_keys`` (extra fnmatch patterns with no decay).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        self.optim_wrapper_cfg = dict(optim_wrapper_cfg)
        self.paramwise_cfg = dict(paramwise_cfg or {})
        unknown = set(self.paramwise_cfg) - {"layer_decay", "exclude_1d", "no_decay_keys"}
        if unknown:
            raise TypeError(f"TimmParamGroupsConstructor paramwise_cfg: unknown keys {sorted(unknown)}")

    def param_groups(self, model: nn.Module, lr: float, weight_decay: float) -> List[dict]:
        no_decay = _no_decay_names(model)
        patterns = list(self.paramwise_cfg.get("no_decay_keys", ()))
        exclude_1d = self.paramwise_cfg.get("exclude_1d", True)
        ld = self.paramwise_cfg.get("layer_decay")
        scales = _layer_scales(model, ld) if ld else {}
        groups: Dict[tuple, dict] = {}
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            skip = (exclude_1d and p.ndim <= 1) or name in no_decay \
                or any(name.endswith("." + n) for n in no_decay) or any(fnmatch.fnmatch(name, pat) for pat in patterns)
            scale = scales.get(name, 1.0)
            key = (skip, scale)
            if key not in groups:
                groups[key] = {"params": [], "weight_decay": 0.0 if skip else weight_decay, "lr": lr * scale}
            groups[key]["params"].append(p)
        return list(groups.values())

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if is_model_wrapper(model):
            model = model.module
        cfg = dict(self.optim_wrapper_cfg)
        optimizer_cfg = dict(cfg.pop("optimizer"))
        optimizer_cfg["params"] = self.param_groups(model, optimizer_cfg["lr"], optimizer_cfg.get("weight_decay", 0.0))
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        cfg.setdefault("type", "OptimWrapper")
        return OPTIM_WRAPPERS.build(cfg, default_args={"optimizer": optimizer})
