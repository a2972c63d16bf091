"""Official checkpoints in the VMamba-v1 layout (EfficientVMamba, MSVMamba) → our keys: the stem, head, patch
merging and SS2D parameter names both families share; each family's converter adds its block renames."""
import re
from typing import Callable, Dict, Mapping, Optional

import torch

from .common import unwrap_state_dict

__all__ = ["convert_v1_checkpoint", "convert_common_key"]

_SSM_PARAMS = ("x_proj_weight", "dt_projs_weight", "dt_projs_bias", "A_logs", "Ds")


def convert_common_key(k: str) -> Optional[str]:
    """Stem, head and the SS2D parameters shared by the VMamba-v1-style families; None when not one of those."""
    if k.startswith("patch_embed.0."):
        return "stem.conv." + k[len("patch_embed.0."):]
    if k.startswith("patch_embed.2."):
        return "stem.norm." + k[len("patch_embed.2."):]
    if k.startswith("classifier.norm."):
        return "head.norm." + k[len("classifier.norm."):]
    if k.startswith("classifier.head."):
        return "head.fc." + k[len("classifier.head."):]
    return None


def _ssm_key(k: str) -> str:
    """``...op.A_logs`` → ``...mixer.ssm.A_logs`` (DirectionalSSM holds the per-direction stacks)."""
    for p in _SSM_PARAMS:
        if k.endswith(".mixer." + p):
            return k[: -len(p)] + "ssm." + p
    return k


def convert_v1_checkpoint(state_dict: Mapping, block_key: Callable[[str], str],
                          other_key: Optional[Callable[[str], Optional[str]]] = None) -> Dict[str, torch.Tensor]:
    """Official VMamba-v1-layout checkpoints (EfficientVMamba, MSVMamba) → ours; ours pass through unchanged.

    Stem, head and ``layers.i.downsample`` map the same in both families; ``block_key`` renames a block key
    already moved to ``stages.i.blocks.j.``; ``other_key`` handles any other family layout (None: kept).
    """
    state_dict = unwrap_state_dict(state_dict)
    if any(k.startswith(("stem.", "stages.")) for k in state_dict):
        return dict(state_dict)
    out = {}
    for k, v in state_dict.items():
        if k.startswith("outnorm"):  # the detection backbones' norms: no counterpart in a classifier
            continue
        new = convert_common_key(k)
        if new is None:
            m = re.match(r"layers\.(\d+)\.downsample\.(.*)", k)
            if m:
                new = f"stages.{int(m.group(1)) + 1}.downsample.{m.group(2)}"
        if new is None:
            m = re.match(r"layers\.(\d+)\.blocks\.(\d+)\.(.*)", k)
            if m:
                new = _ssm_key(block_key(f"stages.{m.group(1)}.blocks.{m.group(2)}.{m.group(3)}"))
        if new is None and other_key is not None:
            new = other_key(k)
        out[new if new is not None else k] = v
    return out
