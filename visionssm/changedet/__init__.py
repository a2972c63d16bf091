"""Remote-sensing change detection (ChangeMamba): MambaBCD / MambaSCD / MambaBDA on any visionssm or timm backbone,
datasets for the common on-disk layouts, bi-temporal augmentation, CE + Lovász losses, exact metrics, inference.

OpenMMLab integration lives in :mod:`visionssm.changedet.mm` (imported only when mmengine is wanted).
"""
from .checkpoint import load_change_checkpoint, model_from_config
from .datasets import (
    LEVIRCD,
    SECOND,
    SYSUCD,
    WHUCD,
    BinaryChangeDataset,
    LayoutError,
    PairProblem,
    PairProblemsError,
    SemanticChangeDataset,
    XBDDataset,
    build_dataset,
    collate,
)
from .decoders import ChangeDecoder, SemanticDecoder, SpatioTemporalFusion, VSSBlockFactory
from .infer import infer_folder
from .losses import bcd_loss, bda_loss, lovasz_softmax, scd_loss, total_loss
from .metrics import (
    BinaryChangeMeter,
    DamageMeter,
    SemanticChangeMeter,
    binary_change_metrics,
    confusion_matrix,
    damage_metrics,
    semantic_change_metrics,
)
from .models import CHANGE_MODELS, MambaBCD, MambaBDA, MambaSCD, SiameseEncoder, build_change_model
from .transforms import BiTemporalTransform, build_transform

__all__ = [
    "LEVIRCD", "SECOND", "SYSUCD", "WHUCD", "BinaryChangeDataset", "LayoutError", "PairProblem", "PairProblemsError",
    "SemanticChangeDataset", "XBDDataset", "build_dataset", "collate", "ChangeDecoder", "SemanticDecoder",
    "SpatioTemporalFusion", "VSSBlockFactory", "infer_folder", "bcd_loss", "bda_loss", "lovasz_softmax", "scd_loss",
    "total_loss", "BinaryChangeMeter", "DamageMeter", "SemanticChangeMeter", "binary_change_metrics",
    "confusion_matrix", "damage_metrics", "semantic_change_metrics", "CHANGE_MODELS", "MambaBCD", "MambaBDA",
    "MambaSCD", "SiameseEncoder", "build_change_model", "BiTemporalTransform", "build_transform", "load_change_checkpoint", "model_from_config",
]
