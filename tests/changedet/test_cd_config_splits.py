"""Every change-detection config evaluates on pairs it does not train on (built on generated data)."""
from pathlib import Path

import pytest

from . import cd_synthetic

pytestmark = pytest.mark.mm

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs" / "change_detection").glob("*.py"))


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """One tiny dataset per task, with train/ and test/ folders as the configs' layouts document."""
    base = tmp_path_factory.mktemp("cd_splits")
    for split, seed in (("train", 0), ("test", 1)):
        cd_synthetic.write_binary_dataset(base / "bcd", n=2, size=16, split=split, seed=seed)
        cd_synthetic.write_second_dataset(base / "scd" / split, n=2, size=16, seed=seed)
        cd_synthetic.write_xbd_dataset(base / "bda" / split, n=2, size=16, seed=seed)
    return {task: base / task for task in ("bcd", "scd", "bda")}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_train_and_evaluation_pairs_are_disjoint(path, roots):
    pytest.importorskip("mmengine")
    from mmengine.config import Config

    import visionssm.changedet.mm  # noqa: F401
    from visionssm.mm.registry import DATASETS

    cfg = Config.fromfile(str(path))
    files = {}
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        ds_cfg = cfg[loader].dataset.copy()
        ds_cfg.data_root = str(roots[ds_cfg.task])
        ds = DATASETS.build(ds_cfg)
        files[loader] = {str(Path(s["img_from"]).resolve()) for s in ds.dataset.samples}
        assert files[loader], f"{path.name}: {loader} is empty on the generated data"
    for held_out in ("val_dataloader", "test_dataloader"):
        shared = files["train_dataloader"] & files[held_out]
        assert not shared, f"{path.name}: {held_out} evaluates on training pairs {sorted(shared)[:3]}"
