"""Data pipeline pieces: timm's own classification transforms (RandAugment, random erasing, crop_pct ...) and the
segmentation label-map size check."""
from typing import Optional, Tuple, Union

from mmcv.transforms import BaseTransform
from PIL import Image

from .registry import TRANSFORMS

__all__ = ["CheckSegMapSize", "PackClsInputs", "TimmClsTransform"]


@TRANSFORMS.register_module()
class TimmClsTransform(BaseTransform):
    """Reads ``results['img_path']`` as RGB and applies ``timm.data.create_transform(**kwargs)``.

    Using timm's transform keeps the recipes identical to the official (Swin/DeiT-derived) training code:
    ``is_training=True`` gives RandomResizedCrop + flip + RandAugment/colour jitter + normalise + random erasing;
    ``False`` gives resize by ``crop_pct`` + centre crop + normalise.
    """

    def __init__(self, input_size: Union[int, Tuple[int, int]] = 224, is_training: bool = False,
                 interpolation: str = "bicubic", mean: Optional[tuple] = None, std: Optional[tuple] = None, **kwargs):
        from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, create_transform
        self.timm_transform = create_transform(input_size, is_training=is_training, interpolation=interpolation,
                                          mean=mean or IMAGENET_DEFAULT_MEAN, std=std or IMAGENET_DEFAULT_STD, **kwargs)

    def transform(self, results: dict) -> dict:
        with open(results["img_path"], "rb") as f:
            img = Image.open(f).convert("RGB")
        results["img"] = self.timm_transform(img)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.timm_transform})"


@TRANSFORMS.register_module()
class PackClsInputs(BaseTransform):
    """``dict(inputs=CHW tensor, data_samples=dict(gt_label, img_path))`` for :class:`ClsDataPreprocessor`."""

    def transform(self, results: dict) -> dict:
        return {"inputs": results["img"], "data_samples": {"gt_label": int(results["gt_label"]),
                                                             "img_path": results.get("img_path")}}


@TRANSFORMS.register_module()
class CheckSegMapSize(BaseTransform):
    """Refuses a label map whose size differs from its image's; goes right after ``LoadAnnotations``.

    mmseg resizes image and label map to the same target independently, so a wrongly sized label map is silently
    stretched over its image in training, and validation (which keeps the label at its own size) then fails in
    the metric. The image size is ``ori_shape`` (as decoded, before any resize), so the check also holds in test
    pipelines that resize before loading the annotation.
    """

    def transform(self, results: dict) -> dict:
        if "gt_seg_map" not in results:
            raise KeyError("CheckSegMapSize found no 'gt_seg_map': put it after LoadAnnotations in the pipeline")
        seg_hw = tuple(results["gt_seg_map"].shape[:2])
        img_hw = tuple(results["ori_shape"][:2])
        if seg_hw != img_hw:
            raise ValueError(f"label map {results.get('seg_map_path')} is {seg_hw[1]}x{seg_hw[0]} (WxH) but its image "
                             f"{results.get('img_path')} is {img_hw[1]}x{img_hw[0]}: save the label map at the "
                             "image's size (or remove the pair from the dataset)")
        return results
