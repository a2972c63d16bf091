"""Readers for the on-disk layouts medical users have: ISIC 2017/2018, Synapse (npz / h5), nnU-Net v2 raw.

Every dataset returns ``dict(inputs=float32 tensor (C, *S), data_samples=dict(label=int64 tensor (*S), name=...,
...))`` — the shape mmengine's Runner hands to a model's data preprocessor; ``torch.utils.data.default_collate``
stacks it for plain PyTorch loops. Problems found while reading raise with the file named: unreadable files
(:class:`~visionssm.medical.io.UnreadableFileError`), label values outside the declared classes, image/label
shape mismatches, missing files.
"""
import json
import os
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from .io import (
    NIFTI_ENDINGS,
    check_label_values,
    check_same_shape,
    read_h5_volume,
    read_image_2d,
    read_mask_2d,
    read_nifti,
    read_npz_slice,
)
from .transforms import RandomFlipRotate3D, crop_or_pad, isic_transform, synapse_transform

__all__ = ["ISICDataset", "SynapseDataset", "NnUNetRawDataset", "IMAGE_ENDINGS", "nnunet_crossval_split"]

IMAGE_ENDINGS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

ISIC_LAYOUT = ("ISIC layout (VM-UNet):\n  <root>/train/images/<name>.jpg|png\n  <root>/train/masks/<name>[_segmentation].png"
               "\n  <root>/val/images/...  <root>/val/masks/...   (masks 0/255)")
SYNAPSE_LAYOUT = ("Synapse layout (TransUNet/VM-UNet):\n  <root>/train_npz/caseXXXX_sliceYYY.npz (image, label)\n"
                  "  <root>/test_vol_h5/caseXXXX.npy.h5 (image, label volumes)\n"
                  "  <list_dir>/train.txt, <list_dir>/test_vol.txt (one name per line)")
NNUNET_LAYOUT = ("nnU-Net v2 raw layout:\n  <root>/dataset.json {channel_names, labels, numTraining, file_ending}\n"
                 "  <root>/imagesTr/<case>_0000<file_ending> ...  <root>/labelsTr/<case><file_ending>")


def _sample(image: np.ndarray, label: np.ndarray, **meta) -> dict:
    return {"inputs": torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)),
                "data_samples": dict(label=torch.from_numpy(np.ascontiguousarray(label).astype(np.int64)), **meta)}


class ISICDataset(torch.utils.data.Dataset):
    """ISIC 2017/2018 skin-lesion folders as prepared by VM-UNet (binary masks).

    Images are min-max scaled per image to [0, ``intensity_scale``] — the net effect of the original
    ``myNormalize`` (z-score with dataset mean/std, then min-max to [0, 255]); masks are binarised at 128.
    """

    def __init__(self, data_root: str, split: str = "train", size: int = 256, augment: Optional[bool] = None,
                 intensity_scale: float = 255.0, transform: Optional[Callable] = None):
        self.root, self.split = os.fspath(data_root), split
        self.intensity_scale = intensity_scale
        img_dir, mask_dir = os.path.join(self.root, split, "images"), os.path.join(self.root, split, "masks")
        for d in (img_dir, mask_dir):
            if not os.path.isdir(d):
                raise FileNotFoundError(f"ISICDataset: {d} not found.\n{ISIC_LAYOUT}")
        masks = {}
        for f in sorted(os.listdir(mask_dir)):
            stem, ext = os.path.splitext(f)
            if ext.lower() in IMAGE_ENDINGS:
                masks[stem[:-len("_segmentation")] if stem.endswith("_segmentation") else stem] = os.path.join(mask_dir, f)
        self.items = []
        for f in sorted(os.listdir(img_dir)):
            stem, ext = os.path.splitext(f)
            if ext.lower() not in IMAGE_ENDINGS:
                continue
            if stem not in masks:
                raise FileNotFoundError(f"ISICDataset: no mask for image {f} in {mask_dir} (expected {stem}.png or "
                                        f"{stem}_segmentation.png)")
            self.items.append((os.path.join(img_dir, f), masks[stem], stem))
        if not self.items:
            raise FileNotFoundError(f"ISICDataset: no images in {img_dir}.\n{ISIC_LAYOUT}")
        train = split == "train" if augment is None else augment
        self.transform = transform if transform is not None else isic_transform(train, size)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        img_path, mask_path, name = self.items[i]
        image, mask = read_image_2d(img_path), read_mask_2d(mask_path)
        check_same_shape(image.shape[:2], mask.shape, f"ISIC {name}")
        out = self.transform(image=image, mask=mask)
        image = out["image"].astype(np.float32)
        lo, hi = image.min(), image.max()
        image = (image - lo) / max(hi - lo, 1e-8) * self.intensity_scale
        return _sample(image.transpose(2, 0, 1), out["mask"], name=name, img_path=img_path)


def _read_list(path: str) -> List[str]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"SynapseDataset: list file {path} not found.\n{SYNAPSE_LAYOUT}")
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


class SynapseDataset(torch.utils.data.Dataset):
    """Synapse multi-organ CT: 2D slices for training (npz), whole volumes for testing (h5). 9 classes (0 = bg).

    ``split='train'``: (1, size, size) slices with the TransUNet augmentation; ``split='test'``: (1, D, H, W)
    volumes with (D, H, W) labels, predicted slice by slice (:func:`visionssm.medical.infer.predict_slices`).
    """

    def __init__(self, data_root: str, split: str = "train", list_dir: Optional[str] = None, size: int = 224,
                 num_classes: int = 9, augment: Optional[bool] = None, transform: Optional[Callable] = None):
        if split not in ("train", "test"):
            raise ValueError(f"SynapseDataset split must be 'train' (npz slices) or 'test' (h5 volumes), got {split!r}")
        self.root, self.split, self.num_classes = os.fspath(data_root), split, num_classes
        list_dir = list_dir or os.path.join(self.root, "lists", "lists_Synapse")
        self.names = _read_list(os.path.join(list_dir, "train.txt" if split == "train" else "test_vol.txt"))
        self.folder = os.path.join(self.root, "train_npz" if split == "train" else "test_vol_h5")
        if not os.path.isdir(self.folder):
            raise FileNotFoundError(f"SynapseDataset: {self.folder} not found.\n{SYNAPSE_LAYOUT}")
        train = split == "train" if augment is None else augment
        self.transform = transform if transform is not None else (synapse_transform(train, size) if split == "train"
                                                                  else None)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i: int) -> dict:
        name = self.names[i]
        if self.split == "train":
            path = os.path.join(self.folder, name + ".npz")
            image, label = read_npz_slice(path)
        else:
            path = os.path.join(self.folder, name + ".npy.h5")
            image, label = read_h5_volume(path)
        check_same_shape(image.shape, label.shape, path)
        check_label_values(label, range(self.num_classes), path)
        if self.transform is not None:
            out = self.transform(image=image.astype(np.float32), mask=label.astype(np.uint8))
            image, label = out["image"], out["mask"]
        return _sample(image[None], label, name=name)


def nnunet_crossval_split(cases: Sequence[str], n_splits: int = 5, seed: int = 12345) -> List[Dict[str, List[str]]]:
    """nnU-Net v2's default cross-validation split (``splits_final.json`` content) of the given case names.

    nnU-Net sorts the case identifiers and splits them with scikit-learn's ``KFold(n_splits, shuffle=True,
    random_state=12345)``: the indices shuffled by ``RandomState(seed)``, then cut into contiguous folds, the
    first ``n % n_splits`` one case larger. Reproduced here with numpy so the fold of a case matches nnU-Net's.
    """
    keys = sorted(cases)
    if len(keys) < n_splits:
        raise ValueError(f"{len(keys)} cases cannot be split into {n_splits} folds")
    order = np.arange(len(keys))
    np.random.RandomState(seed).shuffle(order)
    sizes = np.full(n_splits, len(keys) // n_splits)
    sizes[: len(keys) % n_splits] += 1
    splits, start = [], 0
    for size in sizes:
        val = set(order[start:start + size].tolist())
        start += size
        splits.append({"train": [k for i, k in enumerate(keys) if i not in val],
                       "val": [k for i, k in enumerate(keys) if i in val]})
    return splits


class NnUNetRawDataset(torch.utils.data.Dataset):
    """nnU-Net v2 raw dataset (``imagesTr``/``labelsTr`` + ``dataset.json``), 3D NIfTI or 2D PNG.

    Images are z-scored per channel (nnU-Net's default for non-CT; CT users may pass ``normalize=None`` and
    clip themselves). ``patch_size`` crops (randomly when augmenting) and zero-pads to a fixed size so volumes
    batch; ``augment`` applies :class:`RandomFlipRotate3D` (3D) or flips (2D).

    Splits: ``'test'`` reads ``imagesTs``. ``'train'`` and ``'val'`` read ``imagesTr``; with ``fold=k`` they are
    the training / held-out cases of fold k of nnU-Net's 5-fold split (:func:`nnunet_crossval_split`, or the
    ``splits_file`` nnU-Net wrote, ``splits_final.json``), so validation never sees a training case.
    ``split='train'`` without a fold uses every labelled case (nnU-Net's fold ``all``).
    """

    def __init__(self, data_root: str, split: str = "train", patch_size: Optional[Sequence[int]] = None,
                 augment: Optional[bool] = None, normalize: Optional[str] = "zscore", cases: Optional[Sequence[str]] = None,
                 seed: Optional[int] = None, fold: Optional[int] = None, splits_file: Optional[str] = None):
        if split not in ("train", "val", "test"):
            raise ValueError(f"NnUNetRawDataset split must be 'train', 'val' (folds of imagesTr) or 'test' (imagesTs), "
                             f"got {split!r}")
        if split == "val" and fold is None and cases is None:
            raise ValueError("NnUNetRawDataset split='val' needs fold=0..4 (the held-out cases of that fold of "
                             "nnU-Net's 5-fold split of imagesTr) or an explicit cases=[...] list")
        self.root = os.fspath(data_root)
        meta_path = os.path.join(self.root, "dataset.json")
        if not os.path.isfile(meta_path):
            raise FileNotFoundError(f"NnUNetRawDataset: {meta_path} not found.\n{NNUNET_LAYOUT}")
        with open(meta_path) as f:
            meta = json.load(f)
        missing = [k for k in ("channel_names", "labels", "file_ending") if k not in meta]
        if missing:
            raise ValueError(f"{meta_path} lacks {missing}.\n{NNUNET_LAYOUT}")
        self.ending = meta["file_ending"]
        self.num_channels = len(meta["channel_names"])
        self.labels: Dict[str, int] = {}
        for name, value in meta["labels"].items():
            if not isinstance(value, int):
                raise ValueError(f"{meta_path}: label {name!r} = {value!r} is a region (list); region-based training "
                                 "is not supported by this reader — declare one integer per class")
            self.labels[name] = value
        self.allowed = set(self.labels.values())
        self.num_classes = max(v for k, v in self.labels.items() if k != "ignore") + 1
        self.class_names = [next((k for k, v in self.labels.items() if v == c), str(c)) for c in range(self.num_classes)]
        self.split, self.fold = split, fold
        sub = "Ts" if split == "test" else "Tr"
        self.image_dir = os.path.join(self.root, f"images{sub}")
        self.label_dir = os.path.join(self.root, f"labels{sub}")
        if not os.path.isdir(self.image_dir):
            raise FileNotFoundError(f"NnUNetRawDataset: {self.image_dir} not found.\n{NNUNET_LAYOUT}")
        self.has_labels = os.path.isdir(self.label_dir)
        if cases is None:
            src = self.label_dir if self.has_labels else self.image_dir
            suffix = self.ending if self.has_labels else "_0000" + self.ending
            cases = sorted(f[:-len(suffix)] for f in os.listdir(src) if f.endswith(suffix))
            if fold is not None and split != "test":
                cases = self._fold_cases(cases, fold, splits_file)[split]
        self.cases = list(cases)
        if not self.cases:
            raise FileNotFoundError(f"NnUNetRawDataset: no cases ending with {self.ending!r} in {self.root}.\n{NNUNET_LAYOUT}")
        self.is_volume = self.ending in NIFTI_ENDINGS
        self.patch_size = tuple(patch_size) if patch_size is not None else None
        self.augment = (split == "train") if augment is None else augment
        self.normalize = normalize
        self.rng = np.random.default_rng(seed)
        self.aug3d = RandomFlipRotate3D(seed=seed)

    def _fold_cases(self, cases: List[str], fold: int, splits_file: Optional[str]) -> Dict[str, List[str]]:
        if splits_file is not None:
            with open(splits_file) as f:
                splits = json.load(f)
            source = splits_file
        else:
            splits, source = nnunet_crossval_split(cases), "nnU-Net's default 5-fold split"
        if not 0 <= fold < len(splits):
            raise ValueError(f"NnUNetRawDataset: fold={fold} but {source} has folds 0..{len(splits) - 1}")
        chosen = splits[fold]
        unknown = sorted(set(chosen["train"] + chosen["val"]) - set(cases))
        if unknown:
            raise FileNotFoundError(f"NnUNetRawDataset: {source} names cases not in {self.root}: {unknown[:5]}")
        return chosen

    def __len__(self) -> int:
        return len(self.cases)

    def image_paths(self, case: str) -> List[str]:
        if not self.is_volume:  # nnU-Net's NaturalImage2DIO: one file holds all (RGB) channels
            return [os.path.join(self.image_dir, f"{case}_0000{self.ending}")]
        return [os.path.join(self.image_dir, f"{case}_{c:04d}{self.ending}") for c in range(self.num_channels)]

    def read_case(self, case: str):
        """(image (C, *S) float32, label (*S) int64 or None, affine or None) with all checks applied."""
        paths = self.image_paths(case)
        for p in paths:
            if not os.path.isfile(p):
                raise FileNotFoundError(f"case {case!r}: image file {p} missing (expected {self.num_channels} channel "
                                        f"file(s) <case>_XXXX{self.ending})")
        affine = None
        if self.is_volume:
            chans = []
            for p in paths:
                arr, affine = read_nifti(p)
                if chans and arr.shape != chans[0].shape:
                    raise ValueError(f"case {case!r}: channel {p} has shape {arr.shape}, channel 0 has {chans[0].shape}")
                chans.append(arr.astype(np.float32))
            image = np.stack(chans)
        else:
            image = read_image_2d(paths[0]).transpose(2, 0, 1)[: max(self.num_channels, 1)].astype(np.float32)
        label = None
        if self.has_labels:
            lp = os.path.join(self.label_dir, case + self.ending)
            label = read_nifti(lp)[0] if self.is_volume else read_mask_2d(lp, binary_threshold=None)
            check_same_shape(image.shape[1:], label.shape, f"case {case!r} ({lp})")
            check_label_values(label, self.allowed, f"case {case!r} ({lp})")
            label = label.astype(np.int64)
        if self.normalize == "zscore":
            mean = image.reshape(image.shape[0], -1).mean(1)
            std = image.reshape(image.shape[0], -1).std(1)
            image = (image - mean.reshape((-1,) + (1,) * (image.ndim - 1))) / np.maximum(std, 1e-8).reshape(
                (-1,) + (1,) * (image.ndim - 1))
        return image, label, affine

    def validate(self) -> List[str]:
        """Read every case; returns the problems found (empty when the dataset is clean)."""
        problems = []
        for case in self.cases:
            try:
                self.read_case(case)
            except (OSError, ValueError) as e:
                problems.append(f"{case}: {e}")
        return problems

    def __getitem__(self, i: int) -> dict:
        case = self.cases[i]
        image, label, _ = self.read_case(case)
        if label is None:
            label = np.zeros(image.shape[1:], np.int64)
        if self.patch_size is not None:
            image, label = crop_or_pad(image, label, self.patch_size, self.rng if self.augment else None)
        if self.augment:
            if self.is_volume:
                image, label = self.aug3d(image, label)
            else:
                for axis in (0, 1):
                    if self.rng.random() < 0.5:
                        image, label = np.flip(image, axis + 1), np.flip(label, axis)
        return _sample(image, label, name=case)
