"""Classification data pipeline: timm's own train/eval transforms (RandAugment, random erasing, crop_pct ...)."""
from typing import Optional, Tuple, Union

from mmcv.transforms import BaseTransform
from PIL import Image

from .registry import TRANSFORMS

__all__ = ["PackClsInputs", "TimmClsTransform"]


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
