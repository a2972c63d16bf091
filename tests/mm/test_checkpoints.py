"""Checkpoints and configs through the tools: strict evaluation, fine-tuning reports, config checks, odd batches.

- ``tools/test.py`` with a checkpoint of other widths or a missing stage exits 1 with one message naming keys.
- ``load_from`` fine-tuning names the tensors it did not load and refuses a checkpoint that matches nothing.
- Misspelt top-level keys and hook / loop arguments fail before training, naming the nearest valid key.
- Mixup/CutMix with an odd last batch (17 images, batch 4) trains through ``tools/train.py``.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytestmark = pytest.mark.mm

from .mm_helpers import CONFIGS, ROOT, tiny_cls_body, write_config  # noqa: E402

CLS_CFG = CONFIGS / "classification" / "vmamba-tiny-s1l8_8xb128_in1k.py"


def _build(cfg_path: Path, **overrides):
    from mmengine.config import Config

    import visionssm.mm  # noqa: F401
    from visionssm.mm import MODELS

    model_cfg = Config.fromfile(cfg_path).model
    model_cfg.update(overrides)
    return MODELS.build(model_cfg)


def _save(model, path: Path, drop=(), rename=None) -> Path:
    sd = {k: v for k, v in model.state_dict().items() if not k.startswith(tuple(drop))}
    if rename:
        sd = {rename(k): v for k, v in sd.items()}
    torch.save({"state_dict": sd, "meta": {}}, path)
    return path


@pytest.fixture
def cls_cfg(imagenet_root, tmp_path) -> Path:
    return write_config(tmp_path / "cls.py", CLS_CFG, tiny_cls_body(imagenet_root, tmp_path / "work"))


def _run_test_tool(cfg: Path, ckpt: Path, tmp_path: Path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(ROOT / "tools" / "test.py"), str(cfg), str(ckpt), "--work-dir",
                           str(tmp_path / "t")], env=env, capture_output=True, text=True, timeout=300)


def test_test_tool_refuses_other_widths_with_exit_1(cls_cfg, tmp_path):
    ckpt = _save(_build(cls_cfg, dims=24), tmp_path / "wide.pth")
    res = _run_test_tool(cls_cfg, ckpt, tmp_path)
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
    assert "Traceback" not in res.stderr and "accuracy/top1" not in res.stdout + res.stderr
    assert "error: checkpoint" in res.stderr and "does not match" in res.stderr and "shape mismatches" in res.stderr


def test_test_strict_names_missing_stage(cls_cfg, tmp_path):
    from visionssm.cli.test import main
    from visionssm.mm.loading import CheckpointMismatchError

    ckpt = _save(_build(cls_cfg), tmp_path / "no_stage.pth", drop=("model.stages.2.",))
    with pytest.raises(CheckpointMismatchError, match=r"missing keys, first: \['model\.stages\.2\."):
        main([str(cls_cfg), str(ckpt), "--work-dir", str(tmp_path / "t")])


def test_test_accepts_bare_timm_state_dict(cls_cfg, tmp_path):
    """A classifier's own ``timm`` weights (no ``model.`` prefix) evaluate like the Runner checkpoint."""
    from visionssm.cli.test import main

    model = _build(cls_cfg)
    path = tmp_path / "timm.pth"
    torch.save(model.model.state_dict(), path)
    metrics = main([str(cls_cfg), str(path), "--work-dir", str(tmp_path / "t")])
    assert 0.0 <= metrics["accuracy/top1"] <= 100.0


def _log_text(work_dir: Path) -> str:
    return "\n".join(p.read_text() for p in work_dir.glob("*/*.log"))


def test_load_from_reports_keys_not_loaded(imagenet_root, tmp_path):
    from visionssm.cli.train import main

    wd = tmp_path / "work"
    cfg = write_config(tmp_path / "ft.py", CLS_CFG, tiny_cls_body(imagenet_root, wd))
    ckpt = _save(_build(cfg, num_classes=5), tmp_path / "in5.pth")  # another head: the head must not load
    main([str(cfg), "--cfg-options", f"load_from={ckpt}"])
    log = _log_text(wd)
    assert "model tensors keep their initialisation: ['model.head.fc.weight', 'model.head.fc.bias']" in log, log[-3000:]


def test_load_from_refuses_unrelated_checkpoint(imagenet_root, tmp_path):
    from visionssm.cli.train import main
    from visionssm.mm.loading import CheckpointMismatchError

    cfg = write_config(tmp_path / "ft.py", CLS_CFG, tiny_cls_body(imagenet_root, tmp_path / "work"))
    ckpt = _save(_build(cfg), tmp_path / "renamed.pth", rename=lambda k: "other." + k)
    with pytest.raises(CheckpointMismatchError, match="no weight of the checkpoint fits"):
        main([str(cfg), "--cfg-options", f"load_from={ckpt}"])
    assert not list((tmp_path / "work").glob("*.pth"))


@pytest.mark.parametrize("option, message", [
    ("load_form=/x.pth", "config key 'load_form' is not read by the runner: did you mean 'load_from'?"),
    ("default_hooks.checkpoint.intervall=1", "CheckpointHook has no argument 'intervall': did you mean 'interval'?"),
    ("default_hooks.logger.intreval=5", "LoggerHook has no argument 'intreval': did you mean 'interval'?"),
    ("train_cfg.max_epoch=2", "EpochBasedTrainLoop has no argument 'max_epoch': did you mean 'max_epochs'?"),
])
def test_config_typos_fail_before_training(cls_cfg, tmp_path, option, message):
    from visionssm.cli.train import main
    from visionssm.mm.config_check import ConfigKeyError

    with pytest.raises(ConfigKeyError) as e:
        main([str(cls_cfg), "--cfg-options", option])
    assert message in str(e.value)
    assert not (tmp_path / "work").exists()  # nothing started


def test_config_check_accepts_repository_configs():
    """No false alarm on helper variables (``train_pipeline``, ``data_root`` ...) of one config per task."""
    from mmengine.config import Config

    from visionssm.mm.config_check import check_config

    for path in (CLS_CFG, CONFIGS / "quickstart" / "vmamba-digits_1xb64_20e.py",
                 CONFIGS / "detection" / "mask-rcnn_vmamba-tiny-s1l8_fpn_1x_coco.py",
                 CONFIGS / "segmentation" / "upernet_vim-tiny_8xb2-60k_ade20k-512x512.py",
                 CONFIGS / "change_detection" / "mambascd-tiny_1xb16-50k_second-256x256.py",
                 CONFIGS / "medical" / "lightm-unet-3d_lits.py"):
        check_config(Config.fromfile(path))


def test_mixup_with_odd_last_batch_trains(tmp_path):
    """17 images, batch 4: the epoch ends with a batch of 1, which timm's Mixup alone rejects."""
    from visionssm.cli.train import main

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c, n in (("a", 9), ("b", 8)):
            d = tmp_path / "data" / split / c
            d.mkdir(parents=True)
            for i in range(n):
                Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(d / f"{i}.png")
    wd = tmp_path / "work"
    body = tiny_cls_body(tmp_path / "data", wd, batch=4, n=17).replace(
        "mixup=None", "mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode='batch')")
    cfg = write_config(tmp_path / "odd.py", CLS_CFG, body)
    main([str(cfg)])
    assert (wd / "epoch_1.pth").is_file()
    assert "Epoch(train) [1][5/5]" in _log_text(wd)


def test_odd_batch_mixup_modes():
    from visionssm.mm.classifier import OddBatchMixup

    for mode in ("batch", "pair", "elem"):
        mix = OddBatchMixup(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode=mode,
                            label_smoothing=0.1, num_classes=3)
        x, y = mix(torch.randn(5, 3, 8, 8), torch.tensor([0, 1, 2, 0, 1]))
        assert x.shape == (5, 3, 8, 8) and y.shape == (5, 3)
        torch.testing.assert_close(y.sum(1), torch.ones(5))


def test_every_mmengine_registry_has_a_visionssm_child():
    """Under ``default_scope='visionssm'`` mmengine looks each component up in our child registry first."""
    from mmengine import registry as root

    import visionssm.mm  # noqa: F401

    roots = [v for v in vars(root).values() if isinstance(v, root.Registry) and v.parent is None]
    assert len(roots) >= 20
    missing = [r.name for r in roots if "visionssm" not in r.children]
    assert not missing, missing
