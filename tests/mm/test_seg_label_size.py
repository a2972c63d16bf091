"""Segmentation label maps whose size differs from their image's are refused, naming both files, in training and in
validation, through the real ADE20K configs' pipelines."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.mm

from .mm_helpers import CONFIGS, make_ade  # noqa: E402

SEG_CONFIGS = sorted((CONFIGS / "segmentation").glob("*.py"))


@pytest.fixture(scope="module")
def ade_bad_label(tmp_path_factory) -> Path:
    """The generated ADE20K folder with ADE_0001's label maps saved at 48x64 instead of the image's 64x64."""
    root = make_ade(tmp_path_factory.mktemp("ade_bad"), n=2)
    for split in ("training", "validation"):
        path = root / "annotations" / split / "ADE_0001.png"
        Image.fromarray(np.asarray(Image.open(path))[:, :48]).save(path)
    return root


def _dataset(cfg, loader: str, root: Path):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    init_default_scope("mmseg")
    ds_cfg = cfg[loader].dataset.copy()
    ds_cfg.data_root = str(root)
    return DATASETS.build(ds_cfg)


@pytest.mark.parametrize("path", SEG_CONFIGS, ids=lambda p: p.stem)
def test_every_segmentation_config_checks_label_size_after_loading(path):
    from mmengine.config import Config

    import visionssm.mm  # noqa: F401  (mmengine's config loader needs its compatibility shims)

    cfg = Config.fromfile(path, format_python_code=False)
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        types = [t["type"] for t in cfg[loader].dataset.pipeline]
        assert "visionssm.CheckSegMapSize" in types, f"{path.name} {loader}: {types}"
        assert types.index("visionssm.CheckSegMapSize") == types.index("LoadAnnotations") + 1, types


@pytest.mark.parametrize("loader", ["train_dataloader", "val_dataloader"])
def test_mismatched_label_is_refused_in_training_and_validation(ade_bad_label, loader):
    from mmengine.config import Config

    import visionssm.mm  # noqa: F401  (registers visionssm.CheckSegMapSize)
    cfg = Config.fromfile(SEG_CONFIGS[0], format_python_code=False)
    ds = _dataset(cfg, loader, ade_bad_label)
    assert ds[0]["data_samples"].gt_sem_seg.data.shape[-2:] == (64, 64) or loader == "train_dataloader"
    with pytest.raises(ValueError, match=r"label map .*ADE_0001\.png is 48x64 \(WxH\) but its image .*ADE_0001\.jpg "
                                         r"is 64x64: save the label map at the image's size"):
        ds[1]


def test_check_needs_a_loaded_label():
    import visionssm.mm  # noqa: F401
    from visionssm.mm.transforms import CheckSegMapSize

    ok = {"gt_seg_map": np.zeros((5, 7), np.uint8), "ori_shape": (5, 7), "img_shape": (10, 14)}
    assert CheckSegMapSize()(dict(ok)) == ok  # resized image, label at the original size: fine
    with pytest.raises(KeyError, match="after LoadAnnotations"):
        CheckSegMapSize()({"ori_shape": (5, 7)})
