"""EfficientViM as a visionssm family, through timm's own implementation (``timm.models.efficientvim``).

Paper: "EfficientViM: Efficient Vision Mamba with Hidden State Mixer based State Space Duality", Lee et al.,
CVPR 2025, arXiv:2411.15241. Official code: https://github.com/mlvlab/EfficientViM (MIT).

HSM-SSD needs no scan: the SSD dual form is two matrix products over a small hidden state (49/25/9 states), with
the channel mixing and gating done inside that state. timm (>= 1.0.30) ships the model and its ImageNet weights as
``efficientvim_m1`` .. ``efficientvim_m4`` (and ``*_dist``); visionssm does not implement it again. This module makes
those timm models a visionssm family: official training checkpoints convert on load
(``visionssm.convert.from_official('efficientvim', ...)``), ``features_only`` / ``forward_intermediates`` are timm's
(three maps at strides 16, 32, 64), the mm backbone wrapper takes them by name, and ``test_efficientvim`` is the tiny
variant for tests. With an older timm, creating any of these models raises one error naming the timm version.
"""
from typing import Any, Dict, Mapping

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model

from visionssm.convert.common import unwrap_state_dict
from visionssm.convert.efficientvim import MIN_TIMM, convert_official, require_timm_efficientvim

from ._test_variants import TEST_CFG

__all__ = ["TIMM_VARIANTS", "checkpoint_filter_fn", "timm_has_efficientvim"]

# timm's own models that this family covers (cards, benchmarks, configs); the ``*_dist`` models are the same
# networks with a second (distillation) head, their results are listed with these.
TIMM_VARIANTS = ("efficientvim_m1", "efficientvim_m2", "efficientvim_m3", "efficientvim_m4")


def timm_has_efficientvim() -> bool:
    try:
        require_timm_efficientvim()
    except ImportError:
        return False
    return True


def checkpoint_filter_fn(state_dict: Mapping, model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    """Official EfficientViM checkpoints (``{'model'}``, ``{'model_ema'}``, ``module.``) or timm's → timm's keys,
    with integer / NaN weights refused."""
    if not any(k in state_dict for k in ("model_ema", "model", "state_dict")):
        state_dict = unwrap_state_dict(state_dict)
    return convert_official(state_dict, model)


def _needs_newer_timm(name: str):
    """A timm entrypoint named ``name`` that raises ``require_timm_efficientvim``'s error."""
    def entrypoint(pretrained: bool = False, **kwargs: Any):
        require_timm_efficientvim()
        raise ImportError(f"{name} needs timm>={MIN_TIMM}")  # only when timm was upgraded after import

    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__ = __name__
    return entrypoint


SMALL_TEST_CONFIGS = {  # widths and depths shrunk, the per-stage state sizes kept
    "efficientvim_m1": {"embed_dim": (16, 24, 40), "depths": (1, 1, 1)},
    "efficientvim_m2": {"embed_dim": (16, 32, 64), "depths": (1, 1, 1)},
    "efficientvim_m3": {"embed_dim": (24, 40, 64), "depths": (1, 1, 1)},
    "efficientvim_m4": {"embed_dim": (24, 40, 64), "depths": (1, 2, 1)},
}

default_cfgs = generate_default_cfgs({
    "test_efficientvim": {
        "url": "", "num_classes": 1000, "crop_pct": 0.875, "interpolation": "bicubic",
        "mean": IMAGENET_DEFAULT_MEAN, "std": IMAGENET_DEFAULT_STD, "first_conv": "patch_embed.conv.0.conv",
        "classifier": ("heads.0", "heads.1", "heads.2", "heads.3"), "license": "mit", "paper_ids": "arXiv:2411.15241",
        "origin_url": "https://github.com/mlvlab/EfficientViM", **TEST_CFG, "pool_size": None,
    },
})


if timm_has_efficientvim():
    @register_model
    def test_efficientvim(pretrained: bool = False, **kwargs: Any) -> torch.nn.Module:
        """Tiny EfficientViM (timm's class) for tests: widths 16-24-32, one block per stage, states 9-4-4."""
        timm_evm = require_timm_efficientvim()
        args = {"embed_dim": (16, 24, 32), "depths": (1, 1, 1), "state_dim": (9, 4, 4)}
        return build_model_with_cfg(timm_evm.EfficientViM, "test_efficientvim", pretrained,
                                    pretrained_filter_fn=checkpoint_filter_fn,
                                    feature_cfg={"out_indices": (0, 1, 2), "feature_cls": "getter"},
                                    **dict(args, **kwargs))
else:  # an older timm: the names exist and say what to install, instead of timm's "unknown model"
    for _name in (*TIMM_VARIANTS, "test_efficientvim"):
        register_model(_needs_newer_timm(_name))
