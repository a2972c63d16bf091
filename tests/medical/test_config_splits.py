"""Every medical config validates on cases it does not train on; nnU-Net's cross-validation folds are reproduced."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visionssm.medical import NnUNetRawDataset
from visionssm.medical.datasets import nnunet_crossval_split

from .conftest import make_nnunet, make_synapse

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs" / "medical").glob("*.py"))


def _isic_with_distinct_ids(root: Path) -> Path:
    """ISIC ids are global (ISIC_0000000 ...), so a split reused for validation shows up as shared ids."""
    for split, first in (("train", 0), ("val", 1000)):
        (root / split / "images").mkdir(parents=True)
        (root / split / "masks").mkdir(parents=True)
        for i in range(first, first + 3):
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / split / "images" / f"ISIC_{i:07d}.png")
            Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / split / "masks" / f"ISIC_{i:07d}_segmentation.png")
    return root


def _case_ids(ds) -> set:
    """What a dataset reads, as case identities that two splits must not share."""
    name = type(ds).__name__
    if name == "ISICDataset":
        return {stem for _, _, stem in ds.items}
    if name == "SynapseDataset":  # training slices caseXXXX_sliceYYY vs test volumes caseXXXX
        return {n.split("_slice")[0] for n in ds.names}
    if name == "NnUNetRawDataset":
        return {os.path.join(ds.image_dir, c) for c in ds.cases}
    raise AssertionError(f"no case identity defined for {name}: extend _case_ids")


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("splits")
    return {"visionssm.ISICDataset": _isic_with_distinct_ids(base / "isic"),
            "visionssm.SynapseDataset": make_synapse(base / "synapse"),
            "visionssm.NnUNetRawDataset": make_nnunet(base / "nnunet" / "Dataset001_Blobs", n=7)}


@pytest.mark.mm
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_train_and_validation_cases_are_disjoint(path, roots):
    pytest.importorskip("mmengine")
    from mmengine.config import Config

    import visionssm.medical.mm  # noqa: F401
    from visionssm.mm.registry import DATASETS

    cfg = Config.fromfile(str(path))
    built = {}
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        ds_cfg = cfg[loader].dataset.copy()
        ds_cfg.data_root = str(roots[ds_cfg.type])
        built[loader] = _case_ids(DATASETS.build(ds_cfg))
        assert built[loader], f"{path.name}: {loader} is empty on the generated data"
    for held_out in ("val_dataloader", "test_dataloader"):
        shared = built["train_dataloader"] & built[held_out]
        assert not shared, f"{path.name}: {held_out} evaluates on training cases {sorted(shared)[:5]}"


@pytest.mark.parametrize("n", [5, 7, 13, 131])
def test_folds_match_sklearn_kfold_as_nnunet_calls_it(n):
    """nnU-Net v2: generate_crossval_split(sorted keys, seed=12345, n_splits=5) = KFold(5, shuffle, 12345)."""
    kfold = pytest.importorskip("sklearn.model_selection").KFold(n_splits=5, shuffle=True, random_state=12345)
    keys = [f"case_{i:03d}" for i in range(n)]
    ours = nnunet_crossval_split(list(reversed(keys)))  # order given does not matter: nnU-Net sorts
    for fold, (tr, va) in zip(ours, kfold.split(keys)):
        assert fold == {"train": [keys[i] for i in tr], "val": [keys[i] for i in va]}


def test_fold_datasets_partition_the_training_cases(nnunet_root, tmp_path):
    root = make_nnunet(tmp_path / "Dataset002_Seven", n=7)
    everything = NnUNetRawDataset(root).cases
    vals = []
    for fold in range(5):
        tr = NnUNetRawDataset(root, split="train", fold=fold).cases
        va = NnUNetRawDataset(root, split="val", fold=fold).cases
        assert not set(tr) & set(va) and sorted(tr + va) == everything
        vals += va
    assert sorted(vals) == everything  # each case is held out exactly once
    assert not NnUNetRawDataset(root, split="val", fold=0).augment

    splits = tmp_path / "splits_final.json"  # nnU-Net's own file wins over the default split
    splits.write_text(json.dumps([{"train": everything[1:], "val": everything[:1]}]))
    assert NnUNetRawDataset(root, split="val", fold=0, splits_file=str(splits)).cases == everything[:1]
    with pytest.raises(ValueError, match="fold=1 but .*splits_final.json has folds 0..0"):
        NnUNetRawDataset(root, split="val", fold=1, splits_file=str(splits))
    splits.write_text(json.dumps([{"train": everything, "val": ["not_a_case"]}]))
    with pytest.raises(FileNotFoundError, match="not_a_case"):
        NnUNetRawDataset(root, split="train", fold=0, splits_file=str(splits))
    with pytest.raises(ValueError, match="split='val' needs fold"):
        NnUNetRawDataset(root, split="val")
    with pytest.raises(ValueError, match="cannot be split into 5 folds"):
        NnUNetRawDataset(nnunet_root, split="train", fold=0)  # 3 cases
