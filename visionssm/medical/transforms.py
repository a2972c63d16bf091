"""Augmentation: albumentations pipelines for 2D (ISIC, Synapse slices) and a small numpy 3D equivalent.

2D recipes follow the official training code: VM-UNet/MHS-VM ISIC = horizontal flip 0.5, vertical flip 0.5,
rotation in [0, 360) with p 0.5, resize to 256 (the original draws one rotation angle when the transform is
built — a bug; ours draws one per sample); Synapse (TransUNet ``RandomGenerator``) = with p 0.5 a random
90° rotation + flip, with p 0.5 a rotation in [-20, 20]°, resize to 224 (nearest for labels).
3D (``RandomFlipRotate3D``): flips along each spatial axis, 90° rotations in the (H, W) plane (any plane with
``all_planes``), intensity scale/shift and Gaussian noise — the usual nnU-Net/MONAI subset that needs no
resampling. MONAI is not required.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

__all__ = ["isic_transform", "synapse_transform", "resize_transform", "RandomFlipRotate3D", "crop_or_pad"]


def _albu():
    import albumentations as A
    import cv2
    return A, cv2


def isic_transform(train: bool, size: int = 256):
    A, cv2 = _albu()
    ops = []
    if train:
        ops += [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5),
                A.Rotate(limit=(0, 360), p=0.5, border_mode=cv2.BORDER_CONSTANT)]
    ops.append(A.Resize(size, size))
    return A.Compose(ops)


def synapse_transform(train: bool, size: int = 224):
    A, cv2 = _albu()
    ops = []
    if train:
        ops += [A.Sequential([A.RandomRotate90(p=1.0), A.HorizontalFlip(p=0.5)], p=0.5),
                A.Rotate(limit=(-20, 20), p=0.5, border_mode=cv2.BORDER_CONSTANT)]
    ops.append(A.Resize(size, size))
    return A.Compose(ops)


def resize_transform(size: int):
    A, _ = _albu()
    return A.Compose([A.Resize(size, size)])


class RandomFlipRotate3D:
    """Random flips / 90° rotations / intensity changes of (C, D, H, W) images with (D, H, W) labels (numpy)."""

    def __init__(self, flip_p: float = 0.5, rot90_p: float = 0.5, all_planes: bool = False,
                 scale: Tuple[float, float] = (0.9, 1.1), shift: float = 0.1, noise_std: float = 0.0,
                 seed: Optional[int] = None):
        self.flip_p, self.rot90_p, self.all_planes = flip_p, rot90_p, all_planes
        self.scale, self.shift, self.noise_std = scale, shift, noise_std
        self.rng = np.random.default_rng(seed)

    def __call__(self, image: np.ndarray, label: np.ndarray):
        rng = self.rng
        for axis in range(3):
            if rng.random() < self.flip_p:
                image, label = np.flip(image, axis + 1), np.flip(label, axis)
        if rng.random() < self.rot90_p:
            planes = [(0, 1), (0, 2), (1, 2)] if self.all_planes else [(1, 2)]
            a, b = planes[rng.integers(len(planes))]
            k = int(rng.integers(1, 4))
            image, label = np.rot90(image, k, (a + 1, b + 1)), np.rot90(label, k, (a, b))
        image = image * rng.uniform(*self.scale) + rng.uniform(-self.shift, self.shift)
        if self.noise_std > 0:
            image = image + rng.normal(0, self.noise_std, image.shape)
        return np.ascontiguousarray(image, dtype=np.float32), np.ascontiguousarray(label)


def crop_or_pad(image: np.ndarray, label: Optional[np.ndarray], patch: Sequence[int],
                rng: Optional[np.random.Generator] = None):
    """Random (or centred when ``rng`` is None) crop of the spatial dims to ``patch``, zero-padding smaller dims.

    image (C, *S), label (*S) or None.
    """
    spatial = image.shape[1:]
    pads = [(0, max(p - s, 0)) for p, s in zip(patch, spatial)]
    if any(p[1] for p in pads):
        pads = [((p[1]) // 2, p[1] - p[1] // 2) for p in pads]
        image = np.pad(image, [(0, 0)] + pads)
        if label is not None:
            label = np.pad(label, pads)
    starts = []
    for p, s in zip(patch, image.shape[1:]):
        extra = s - p
        starts.append(int(rng.integers(0, extra + 1)) if rng is not None else extra // 2)
    sl = tuple(slice(st, st + p) for st, p in zip(starts, patch))
    return image[(slice(None),) + sl], (label[sl] if label is not None else None)
