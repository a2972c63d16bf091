"""Tiny medical datasets in the real on-disk formats, generated once per session (nothing is downloaded).

- ISIC: ``{train,val}/images/*.png`` + ``masks/*_segmentation.png`` (0/255), 32x32: a bright disc in noise.
- Synapse: ``train_npz/caseXXXX_sliceYYY.npz`` slices and ``test_vol_h5/caseXXXX.npy.h5`` volumes (4x32x32),
  ``lists/lists_Synapse/{train,test_vol}.txt``; labels 0..2 (squares / discs), 9 classes declared.
- nnU-Net raw: ``Dataset001_Blobs`` with 16^3 NIfTI volumes (two Gaussian blobs = labels 1, 2) + dataset.json.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("nibabel")
pytest.importorskip("h5py")


def disc(size, centre, radius):
    yy, xx = np.mgrid[:size, :size]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius ** 2


def isic_pair(rng, size=32):
    c = rng.integers(10, size - 10, 2)
    mask = disc(size, c, int(rng.integers(5, 9)))
    img = rng.normal(90, 20, (size, size, 3))
    img[mask] += 90
    return img.clip(0, 255).astype(np.uint8), mask.astype(np.uint8) * 255


def make_isic(root: Path, n=(4, 2)) -> Path:
    rng = np.random.default_rng(0)
    for split, count in zip(("train", "val"), n):
        (root / split / "images").mkdir(parents=True)
        (root / split / "masks").mkdir(parents=True)
        for i in range(count):
            img, mask = isic_pair(rng)
            Image.fromarray(img).save(root / split / "images" / f"ISIC_{i:07d}.png")
            Image.fromarray(mask).save(root / split / "masks" / f"ISIC_{i:07d}_segmentation.png")
    return root


def synapse_slice(rng, size=32):
    label = np.zeros((size, size), np.uint8)
    y, x = rng.integers(2, 12, 2)
    label[y:y + 10, x:x + 10] = 1
    label[disc(size, (24, 24), 5)] = 2
    image = rng.normal(0.2, 0.05, (size, size)) + 0.3 * (label == 1) + 0.6 * (label == 2)
    return image.astype(np.float32), label


def make_synapse(root: Path) -> Path:
    import h5py
    rng = np.random.default_rng(1)
    (root / "train_npz").mkdir(parents=True)
    (root / "test_vol_h5").mkdir()
    (root / "lists" / "lists_Synapse").mkdir(parents=True)
    train = []
    for case in (5, 6):
        for s in range(2):
            name = f"case{case:04d}_slice{s:03d}"
            image, label = synapse_slice(rng)
            np.savez(root / "train_npz" / f"{name}.npz", image=image, label=label)
            train.append(name)
    test = []
    for case in (1, 2):
        vol = [synapse_slice(rng) for _ in range(4)]
        with h5py.File(root / "test_vol_h5" / f"case{case:04d}.npy.h5", "w") as f:
            f["image"] = np.stack([v[0] for v in vol])
            f["label"] = np.stack([v[1] for v in vol])
        test.append(f"case{case:04d}")
    (root / "lists" / "lists_Synapse" / "train.txt").write_text("\n".join(train) + "\n")
    (root / "lists" / "lists_Synapse" / "test_vol.txt").write_text("\n".join(test) + "\n")
    return root


def blob_volume(rng, size=16):
    zz, yy, xx = np.mgrid[:size, :size, :size]
    label = np.zeros((size,) * 3, np.uint8)
    for value in (1, 2):
        c = rng.integers(4, size - 4, 3)
        r = rng.integers(2, 4)
        label[(zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r ** 2] = value
    image = rng.normal(0, 0.3, label.shape) + 1.0 * (label == 1) + 2.0 * (label == 2)
    return image.astype(np.float32), label


def make_nnunet(root: Path, n=3) -> Path:
    from visionssm.medical.io import write_nifti
    rng = np.random.default_rng(2)
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    affine = np.diag([0.8, 0.8, 1.5, 1.0])
    for i in range(n):
        image, label = blob_volume(rng)
        write_nifti(image, root / "imagesTr" / f"blob_{i:03d}_0000.nii.gz", affine, dtype=np.float32)
        write_nifti(label, root / "labelsTr" / f"blob_{i:03d}.nii.gz", affine)
    meta = {"channel_names": {"0": "MR"}, "labels": {"background": 0, "blob_a": 1, "blob_b": 2}, "numTraining": n,
                "file_ending": ".nii.gz"}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


@pytest.fixture(scope="session")
def isic_root(tmp_path_factory) -> Path:
    return make_isic(tmp_path_factory.mktemp("isic"))


@pytest.fixture(scope="session")
def synapse_root(tmp_path_factory) -> Path:
    return make_synapse(tmp_path_factory.mktemp("synapse"))


@pytest.fixture(scope="session")
def nnunet_root(tmp_path_factory) -> Path:
    return make_nnunet(tmp_path_factory.mktemp("nnunet") / "Dataset001_Blobs")
