"""Dataset layouts on generated pairs: exact labels, layout errors, per-file problem reports."""
import shutil

import numpy as np
import pytest
from PIL import Image

from visionssm.changedet.datasets import (
    SECOND,
    BinaryChangeDataset,
    LayoutError,
    PairProblemsError,
    XBDDataset,
    binarize_label,
    collate,
)
from visionssm.changedet.transforms import build_transform


def test_levir_layout_with_split_and_exact_labels(levir_root):
    ds = BinaryChangeDataset(levir_root["root"], split="train")
    assert ds.folders == {"img_from": "A", "img_to": "B", "label": "label"}
    assert len(ds) == 6
    for i in range(len(ds)):
        item = ds[i]
        assert item["img_from"].shape == (64, 64, 3) and item["img_from"].dtype == np.uint8
        np.testing.assert_array_equal(item["gt"], levir_root["truth"][item["name"]])
    assert 0 < sum(t.mean() for t in levir_root["truth"].values()) / 6 < 0.9  # scenes do contain change


def test_list_file_without_suffix_selects_names(levir_root, tmp_path):
    lst = tmp_path / "two.txt"
    lst.write_text("train_3\n\n# comment\ntrain_1\n")
    ds = BinaryChangeDataset(levir_root["root"], split="train", list_file=lst)
    assert [s["name"] for s in ds.samples] == ["train_3.png", "train_1.png"]


def test_layout_error_names_expected_layouts(tmp_path):
    (tmp_path / "train" / "imgs").mkdir(parents=True)
    with pytest.raises(LayoutError) as err:
        BinaryChangeDataset(tmp_path, split="train")
    msg = str(err.value)
    assert "A/, B/, label/" in msg and "time1/, time2/, label/" in msg and "T1/, T2/, GT/" in msg
    assert "imgs/" in msg  # says what is there instead


def test_missing_partner_and_size_mismatch_reported_per_file(levir_root, tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(levir_root["root"] / "train", root)
    (root / "B" / "train_2.png").unlink()
    Image.new("L", (32, 64)).save(root / "label" / "train_4.png")
    with pytest.raises(PairProblemsError) as err:
        BinaryChangeDataset(root)
    msg = str(err.value)
    assert "train_2.png: missing img_to" in msg
    assert "train_4.png: size mismatch" in msg and "label 32x64" in msg and "on_problem='skip'" in msg
    with pytest.warns(UserWarning, match="skipped 2"):
        ds = BinaryChangeDataset(root, on_problem="skip")
    assert len(ds) == 4 and [p.name for p in ds.problems] == ["train_2.png", "train_4.png"]


def test_custom_folder_map_and_changemamba_layout(levir_root, tmp_path):
    root = tmp_path / "cm"
    for src, dst in (("A", "T1"), ("B", "T2"), ("label", "GT")):
        shutil.copytree(levir_root["root"] / "train" / src, root / dst)
    assert BinaryChangeDataset(root).folders["label"] == "GT"
    ds = BinaryChangeDataset(root, layout={"img_from": "T2", "img_to": "T1", "label": "GT"})
    assert len(ds) == 6


def test_binarize_label_conventions():
    assert binarize_label(np.array([[0, 255]], np.uint8)).tolist() == [[0, 1]]
    assert binarize_label(np.array([[0, 1]], np.uint8)).tolist() == [[0, 1]]
    assert binarize_label(np.array([[0, 1, 255]], np.uint8)).tolist() == [[0, 1, 255]]  # 255 = no data
    assert binarize_label(np.array([[0, 100, 200]], np.uint8)).tolist() == [[0, 0, 1]]


def test_second_colour_labels_decode_exactly(second_root):
    ds = SECOND(second_root["root"])
    assert len(ds) == 4
    for item in (ds[i] for i in range(len(ds))):
        sa, sb = second_root["truth"][item["name"]]
        np.testing.assert_array_equal(item["gt_from"], sa)
        np.testing.assert_array_equal(item["gt_to"], sb)
        np.testing.assert_array_equal(item["gt"], (sa != 0).astype(np.int64))
        assert ((sa != 0) == (sb != 0)).all()


def test_xbd_layout(xbd_root, tmp_path):
    ds = XBDDataset(xbd_root["root"])
    assert len(ds) == 3
    item = ds[0]
    loc, dmg = xbd_root["truth"][item["name"]]
    np.testing.assert_array_equal(item["gt_loc"], loc)
    np.testing.assert_array_equal(item["gt_damage"], dmg)
    with pytest.raises(LayoutError, match="_pre_disaster"):
        XBDDataset(tmp_path)


def test_dataset_with_transform_and_collate(levir_root):
    ds = BinaryChangeDataset(levir_root["root"], split="train", transform=build_transform(True, crop_size=32, seed=0))
    batch = collate([ds[0], ds[1]])
    assert batch["img_from"].shape == (2, 3, 32, 32) and batch["gt"].shape == (2, 32, 32)
    assert batch["gt"].dtype.is_floating_point is False and len(batch["name"]) == 2


def test_split_without_its_folder_warns_that_every_split_reads_the_same_pairs(second_root, xbd_root, levir_root,
                                                                               tmp_path):
    for make in (lambda: SECOND(second_root["root"], split="test"), lambda: XBDDataset(xbd_root["root"], split="test")):
        with pytest.warns(UserWarning, match=r"split='test' reads every pair in .*put each split in its own folder"):
            make()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BinaryChangeDataset(levir_root["root"], split="test")  # test/ exists: no warning
        lst = tmp_path / "test.txt"
        lst.write_text("00000\n")
        assert len(SECOND(second_root["root"], split="test", list_file=lst)) == 1  # a list file picks the pairs
