"""Readers on generated data in each on-disk format, and their errors on broken data."""
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from visionssm.medical import ISICDataset, NnUNetRawDataset, SynapseDataset, UnreadableFileError
from visionssm.medical.io import read_nifti, write_nifti
from visionssm.medical.transforms import RandomFlipRotate3D, crop_or_pad


def test_isic(isic_root):
    ds = ISICDataset(isic_root, "train", size=32)
    val = ISICDataset(isic_root, "val", size=32)
    assert len(ds) == 4 and len(val) == 2
    s = val[0]
    assert s["inputs"].shape == (3, 32, 32) and s["inputs"].dtype == torch.float32
    assert float(s["inputs"].min()) == 0.0 and float(s["inputs"].max()) == pytest.approx(255.0)
    label = s["data_samples"]["label"]
    assert set(label.unique().tolist()) == {0, 1}
    # without augmentation the label equals the mask file binarised
    mask = np.asarray(Image.open(isic_root / "val" / "masks" / "ISIC_0000000_segmentation.png")) >= 128
    assert np.array_equal(label.numpy(), mask.astype(np.int64))
    batch = torch.utils.data.default_collate([ds[0], ds[1]])
    assert batch["inputs"].shape == (2, 3, 32, 32) and batch["data_samples"]["label"].shape == (2, 32, 32)


def test_isic_missing_mask(isic_root, tmp_path):
    root = tmp_path / "isic"
    shutil.copytree(isic_root, root)
    (root / "val" / "masks" / "ISIC_0000001_segmentation.png").unlink()
    with pytest.raises(FileNotFoundError, match="no mask for image ISIC_0000001.png"):
        ISICDataset(root, "val")
    with pytest.raises(FileNotFoundError, match="ISIC layout"):
        ISICDataset(tmp_path / "nowhere", "train")


def test_synapse(synapse_root):
    train = SynapseDataset(synapse_root, "train", size=32)
    s = train[0]
    assert len(train) == 4 and s["inputs"].shape == (1, 32, 32)
    assert set(s["data_samples"]["label"].unique().tolist()) <= {0, 1, 2}
    test = SynapseDataset(synapse_root, "test")
    v = test[1]
    assert v["inputs"].shape == (1, 4, 32, 32) and v["data_samples"]["label"].shape == (4, 32, 32)
    assert v["data_samples"]["name"] == "case0002"


def test_synapse_bad_label_and_unreadable(synapse_root, tmp_path):
    root = tmp_path / "syn"
    shutil.copytree(synapse_root, root)
    np.savez(root / "train_npz" / "case0005_slice000.npz", image=np.zeros((8, 8), np.float32),
             label=np.full((8, 8), 12, np.uint8))
    (root / "test_vol_h5" / "case0001.npy.h5").write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match=r"label values \[12\] are not among the declared classes"):
        SynapseDataset(root, "train")[0]
    with pytest.raises(UnreadableFileError, match="case0001.npy.h5"):
        SynapseDataset(root, "test")[0]


def test_nnunet_raw(nnunet_root):
    ds = NnUNetRawDataset(nnunet_root, augment=False)
    assert ds.cases == ["blob_000", "blob_001", "blob_002"] and ds.num_classes == 3
    assert ds.class_names == ["background", "blob_a", "blob_b"] and ds.validate() == []
    s = ds[0]
    assert s["inputs"].shape == (1, 16, 16, 16) and s["data_samples"]["label"].shape == (16, 16, 16)
    assert abs(float(s["inputs"].mean())) < 1e-4  # z-scored
    # axis order: written (D, H, W) comes back (D, H, W)
    vol, affine = read_nifti(nnunet_root / "labelsTr" / "blob_000.nii.gz")
    assert np.array_equal(vol, s["data_samples"]["label"].numpy()) and affine[2, 2] == 1.5
    crops = NnUNetRawDataset(nnunet_root, patch_size=(8, 8, 8), seed=0)
    c = crops[1]
    assert c["inputs"].shape == (1, 8, 8, 8) and c["data_samples"]["label"].shape == (8, 8, 8)


def _broken_copy(nnunet_root, tmp_path):
    root = tmp_path / "Dataset002_Broken"
    shutil.copytree(nnunet_root, root)
    return root


def test_nnunet_errors(nnunet_root, tmp_path):
    root = _broken_copy(nnunet_root, tmp_path)
    # unreadable volume
    (root / "imagesTr" / "blob_000_0000.nii.gz").write_bytes(b"\x1f\x8b garbage")
    # label value outside the declared classes
    lab, aff = read_nifti(root / "labelsTr" / "blob_001.nii.gz")
    lab[0, 0, 0] = 7
    write_nifti(lab, root / "labelsTr" / "blob_001.nii.gz", aff)
    # image/label shape mismatch
    write_nifti(np.zeros((16, 16, 12), np.float32), root / "imagesTr" / "blob_002_0000.nii.gz", aff, np.float32)
    ds = NnUNetRawDataset(root)
    problems = ds.validate()
    assert len(problems) == 3
    assert "cannot read NIfTI volume" in problems[0] and "blob_000_0000.nii.gz" in problems[0]
    assert "label values [7]" in problems[1]
    assert "image spatial shape (16, 16, 12) != label shape (16, 16, 16)" in problems[2]
    with pytest.raises(UnreadableFileError):
        ds[0]


def test_nnunet_bad_json(nnunet_root, tmp_path):
    root = _broken_copy(nnunet_root, tmp_path)
    meta = json.loads((root / "dataset.json").read_text())
    meta["labels"]["whole"] = [1, 2]
    (root / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="region-based"):
        NnUNetRawDataset(root)
    (root / "dataset.json").unlink()
    with pytest.raises(FileNotFoundError, match="nnU-Net v2 raw layout"):
        NnUNetRawDataset(root)


def test_3d_augmentation_keeps_pairs():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 3, (6, 8, 10))
    image = label[None].astype(np.float32) * 10
    aug = RandomFlipRotate3D(flip_p=1.0, rot90_p=1.0, all_planes=True, scale=(1, 1), shift=0.0, seed=3)
    for _ in range(5):
        im, lb = aug(image, label)
        assert np.array_equal(im[0] / 10, lb)  # the image follows the label through flips and rotations
    im, lb = crop_or_pad(image, label, (8, 4, 4))
    assert im.shape == (1, 8, 4, 4) and lb.shape == (8, 4, 4) and np.array_equal(im[0] / 10, lb)
