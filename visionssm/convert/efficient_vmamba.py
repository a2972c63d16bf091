"""EfficientVMamba (TerryPei/EfficientVMamba) official checkpoints and constructor kwargs →
``visionssm.models.efficient_vmamba.EfficientVMamba``.

Accepts ``{'state_dict': {'module.module.…'}}`` (the released .ckpt), ``{'model'}`` and plain state dicts; our own
state dicts pass through unchanged.
"""
import re
import warnings
from typing import Dict, Mapping, Optional

import torch
from torch import nn

from ._vssm_v1 import convert_v1_checkpoint
from .registry import FamilyConverter, lazy, register_family

__all__ = ["build_from_official", "convert_checkpoint"]

_EVM_BLOCK_RENAMES = (
    (".op.conv2d.", ".mixer.conv."),
    (".op.out_norm.", ".mixer.out_norm."),
    (".op.", ".mixer."),
    (".conv_branch.0.", ".conv_branch.dw."),
    (".conv_branch.1.", ".conv_branch.bn."),
    (".conv_branch.3.", ".conv_branch.pw."),
    (".se.global_reduce.", ".gate.reduce."),
    (".se.channel_select.", ".gate.expand."),
    (".se.norm.", ".gate.norm."),
)
_IR_RENAMES = {"conv_pw.0": "conv_pw", "conv_pw.1": "bn1", "conv_dw.0": "conv_dw", "conv_dw.1": "bn2",
               "se.conv_reduce": "se.reduce", "se.conv_expand": "se.expand", "conv_pw2.0": "conv_pwl",
               "conv_pw2.1": "bn3"}


def _evm_block_key(k: str) -> str:
    for a, b in _EVM_BLOCK_RENAMES:
        k = k.replace(a, b, 1) if a in k else k
    return k


def _evm_ir_key(k: str) -> Optional[str]:
    """layers.i = Sequential(Permute, InvertedResidual × depth (indices 1..depth), Permute, downsample)."""
    m = re.match(r"layers\.(\d+)\.(\d+)\.(.*)", k)
    if not m:
        return None
    i, j, rest = int(m.group(1)), int(m.group(2)), m.group(3)
    if rest.startswith(("reduction.", "norm.")):
        return f"stages.{i + 1}.downsample.{rest}"
    for a, b in _IR_RENAMES.items():
        if rest.startswith(a + "."):
            rest = b + rest[len(a):]
            break
    return f"stages.{i}.blocks.{j - 1}.{rest}"


def convert_checkpoint(state_dict: Mapping) -> Dict[str, torch.Tensor]:
    """Official EfficientVMamba state dict (any container) → our keys."""
    return convert_v1_checkpoint(state_dict, _evm_block_key, _evm_ir_key)


_IGNORED_OFFICIAL = ("attn_drop_rate", "shared_ssm", "softmax_version", "use_checkpoint", "window_size",
                     "norm_layer", "drop_rate")


def build_from_official(kwargs: Mapping) -> nn.Module:
    """``EfficientVSSM(**kwargs)`` → our model with the same architecture (weights random)."""
    kw = dict(kwargs)
    if kw.pop("downsample_version", "v2") != "v1":
        raise NotImplementedError("EfficientVMamba: only downsample_version='v1' (PatchMerging2D, every release) "
                                  "is supported")
    if kw.pop("step_size", 2) != 2:
        raise NotImplementedError("EfficientVMamba: only the atrous step 2 of the releases is supported")
    # EfficientVSSM passes d_state=/dt_rank= to a _make_layer that ignores them: 16 / "auto" always apply.
    for name, used in (("d_state", 16), ("dt_rank", "auto")):
        if name in kw and kw.pop(name) != used:
            warnings.warn(f"official EfficientVSSM ignores {name}=; building with {name}={used!r} as it does",
                          stacklevel=2)
    for name in _IGNORED_OFFICIAL:
        kw.pop(name, None)
    model = lazy("visionssm.models.efficient_vmamba", "EfficientVMamba")(
        in_chans=kw.pop("in_chans", 3), num_classes=kw.pop("num_classes", 1000),
        depths=tuple(kw.pop("depths", (2, 2, 9, 2))), dims=kw.pop("dims", (96, 192, 384, 768)),
        ssm_ratio=kw.pop("ssm_ratio", 2.0), mlp_ratio=kw.pop("mlp_ratio", 4.0), patch_size=kw.pop("patch_size", 4),
        patch_norm=kw.pop("patch_norm", True), drop_path_rate=kw.pop("drop_path_rate", 0.1))
    if kw:
        raise TypeError(f"unsupported official EfficientVSSM kwargs: {sorted(kw)}")
    return model


register_family(FamilyConverter(
    family="efficientvmamba", build=build_from_official,
    convert=lazy("visionssm.models.efficient_vmamba", "checkpoint_filter_fn"),
    guess_variant=lazy("visionssm.models.efficient_vmamba", "guess_variant")))
