"""Bi-temporal augmentation with albumentations.

Geometric transforms run once through one ``A.Compose`` whose ``additional_targets`` make both images and
every label map share the same crop/flip/rotation. Photometric transforms run on each date separately
(different draws), because illumination differs between acquisitions. The result is normalised with
ImageNet mean/std on 0–255 input (ChangeMamba's recipe) and converted to tensors.

Random streams are re-seeded in each DataLoader worker (``seed + worker id``, or the worker's torch seed when no
seed is given), so forked workers never repeat each other's augmentations.
"""
import os
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_KEYS = ("img_from", "img_to")
MASK_KEYS = ("gt", "gt_from", "gt_to", "gt_loc", "gt_damage")
IGNORE_INDEX = 255
_PHOTO_OFFSET = 1_000_003  # photometric draws use their own stream, not the geometric one


def _albu():
    try:
        import albumentations as A
    except ImportError as e:  # albumentations is a core dependency, but say how to fix a broken install
        raise ImportError("bi-temporal augmentation needs albumentations: pip install 'albumentations>=1.4'") from e
    return A


def pad_if_needed(size: int):
    """Pad images with 0 and labels with the ignore index up to ``size`` (albumentations 1.4 and 2.x)."""
    A = _albu()
    import cv2

    try:
        return A.PadIfNeeded(size, size, border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=IGNORE_INDEX)
    except TypeError:  # albumentations < 2.0 names the fill values differently
        return A.PadIfNeeded(size, size, border_mode=cv2.BORDER_CONSTANT, value=0, mask_value=IGNORE_INDEX)


class BiTemporalTransform:
    """Callable on a sample dict (``img_from``, ``img_to`` as H×W×3 uint8, label maps in ``MASK_KEYS``).

    geometric: albumentations transforms applied identically to both images and all labels.
    photometric: albumentations transforms applied independently to each image.
    swap_prob: probability of exchanging the two dates (only valid for symmetric binary change labels).
    normalize: subtract ``mean``/divide ``std`` (given in 0–1 units, applied to 0–255 pixels) and return tensors.
    """

    def __init__(self, geometric: Sequence = (), photometric: Sequence = (), swap_prob: float = 0.0,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 normalize: bool = True, seed: Optional[int] = None):
        self.geometric = list(geometric)
        self.photometric = list(photometric)
        self.swap_prob = swap_prob
        self.mean = np.asarray(mean, np.float32) * 255.0
        self.std = np.asarray(std, np.float32) * 255.0
        self.normalize = normalize
        self.seed = seed
        self._geo: Dict[Tuple[str, ...], object] = {}
        self._photo = None
        self._pid: Optional[int] = None
        self._process_seed: Optional[int] = seed
        self.rng = np.random.default_rng(seed)

    def _reseed_for_process(self) -> None:
        """Give each (forked) DataLoader worker its own random streams, reproducibly when ``seed`` is set."""
        pid = os.getpid()
        if pid == self._pid:
            return
        first = self._pid is None
        self._pid = pid
        info = torch.utils.data.get_worker_info()
        if info is None:
            if first:
                return  # main process: keep the streams made in __init__
            seed = self.seed
        else:
            seed = (self.seed + info.id) if self.seed is not None else int(info.seed % 2 ** 32)
        self._process_seed = seed
        self.rng = np.random.default_rng(seed)
        for compose, offset in [*((g, 0) for g in self._geo.values()), (self._photo, _PHOTO_OFFSET)]:
            if compose is not None and hasattr(compose, "set_random_seed"):
                compose.set_random_seed(None if seed is None else seed + offset)

    def _compose(self, transforms, offset: int = 0, **kwargs):
        A = _albu()
        if self._process_seed is not None:
            try:
                return A.Compose(transforms, seed=self._process_seed + offset, **kwargs)
            except TypeError:  # albumentations < 2.0 has no seed argument
                pass
        return A.Compose(transforms, **kwargs)

    def _geometric(self, mask_keys: Tuple[str, ...]):
        """One Compose per set of label keys present (built once, cached)."""
        if mask_keys not in self._geo:
            targets = {"img_to": "image"}
            targets.update(dict.fromkeys(mask_keys, "mask"))
            self._geo[mask_keys] = self._compose(self.geometric, additional_targets=targets)
        return self._geo[mask_keys]

    def __call__(self, sample: dict) -> dict:
        self._reseed_for_process()
        out = dict(sample)
        mask_keys = tuple(k for k in MASK_KEYS if k in out)
        if self.geometric:
            a, b = out["img_from"], out["img_to"]
            if a.shape != b.shape:
                raise ValueError(f"{out.get('name', 'sample')}: images differ in size {a.shape} vs {b.shape}")
            args = {"image": a, "img_to": b}
            for k in mask_keys:
                args[k] = np.ascontiguousarray(out[k]).astype(np.int32)
            res = self._geometric(mask_keys)(**args)
            out["img_from"], out["img_to"] = res["image"], res["img_to"]
            for k in mask_keys:
                out[k] = res[k]
        if self.photometric:
            if self._photo is None:
                self._photo = self._compose(self.photometric, offset=_PHOTO_OFFSET)
            out["img_from"] = self._photo(image=out["img_from"])["image"]
            out["img_to"] = self._photo(image=out["img_to"])["image"]
        if self.swap_prob > 0 and self.rng.random() < self.swap_prob:
            if any(k in out for k in ("gt_from", "gt_to", "gt_loc", "gt_damage")):
                raise ValueError("swap_prob > 0 only suits binary change labels; date-specific labels would swap meaning")
            out["img_from"], out["img_to"] = out["img_to"], out["img_from"]
        if self.normalize:
            for k in IMAGE_KEYS:
                img = (out[k].astype(np.float32) - self.mean) / self.std
                out[k] = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
            for k in mask_keys:
                out[k] = torch.from_numpy(np.ascontiguousarray(out[k]).astype(np.int64))
        return out


def build_transform(train: bool = True, crop_size: Optional[int] = 256, photometric: bool = False,
                    swap_prob: float = 0.0, seed: Optional[int] = None, **kwargs) -> BiTemporalTransform:
    """ChangeMamba's recipe: random crop (padded with ignore labels when smaller), H/V flips, random rot90.

    ``photometric=True`` adds per-date colour jitter; ``train=False`` only normalises.
    """
    if not train:
        return BiTemporalTransform(**kwargs)
    A = _albu()
    geometric = []
    if crop_size:
        geometric += [pad_if_needed(crop_size), A.RandomCrop(crop_size, crop_size)]
    geometric += [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5), A.RandomRotate90(p=0.5)]
    photo = [A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.05, p=0.5)] if photometric else []
    return BiTemporalTransform(geometric, photo, swap_prob=swap_prob, seed=seed, **kwargs)
