"""Inference over image folders: reading (16-bit/grayscale handled explicitly), per-task predictors, writers, and
the plumbing every task's folder runner shares (classification, segmentation, detection here; change detection
and medical in their packages): :class:`InferenceReport`, :func:`read_image`, ``outputs.overlay_mask`` and
``outputs.RunDir`` (output folder checked first, predictions logged per batch, ``--overwrite`` / ``--resume``).

Classification needs only timm; segmentation/detection import mmseg/mmdet lazily (``pip install 'visionssm[mm]'``).
"""
from .classify import Classifier, classify_folder
from .common import InferenceReport, resolve_device
from .io import IMAGE_EXTENSIONS, ImageReadError, list_images, read_image, to_rgb_uint8


def __getattr__(name):  # the mm-backed predictors load OpenMMLab only when asked for
    if name in ("Segmenter", "segment_folder"):
        from . import segment
        return getattr(segment, name)
    if name in ("Detector", "detect_folder"):
        from . import detect
        return getattr(detect, name)
    raise AttributeError(f"module 'visionssm.infer' has no attribute {name!r}")


__all__ = ["Classifier", "Detector", "IMAGE_EXTENSIONS", "ImageReadError", "InferenceReport", "Segmenter",
           "classify_folder", "detect_folder", "list_images", "read_image", "resolve_device", "segment_folder",
           "to_rgb_uint8"]
