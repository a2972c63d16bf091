"""tools/train.py and tools/test.py flags (OpenMMLab conventions) and their effect on the config."""
import os

import pytest
import torch

pytestmark = pytest.mark.mm

from .mm_helpers import CONFIGS, ROOT, run_tool  # noqa: E402

DET = str(CONFIGS / "detection" / "mask-rcnn_vim-tiny_simple-pyramid_fpn_1x_coco.py")


def _prepare(*argv):
    from visionssm.cli.train import parse_args, prepare_cfg
    return prepare_cfg(parse_args([DET, *argv]))


def test_local_rank_both_spellings(monkeypatch):
    from visionssm.cli.train import parse_args
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert parse_args([DET, "--local-rank", "1"]).local_rank == 1
    assert os.environ["LOCAL_RANK"] == "1"
    assert parse_args([DET, "--local_rank", "2"]).local_rank == 2


def test_flags_shape_the_config(tmp_path):
    cfg = _prepare("--cfg-options", "model.backbone.drop_path_rate=0.3", "train_dataloader.batch_size=4")
    assert cfg.model.backbone.drop_path_rate == 0.3 and cfg.train_dataloader.batch_size == 4
    assert cfg.work_dir == os.path.join("./work_dirs", "mask-rcnn_vim-tiny_simple-pyramid_fpn_1x_coco")
    assert cfg.launcher == "none" and cfg.resume is False
    cfg = _prepare("--resume", "--work-dir", str(tmp_path))
    assert cfg.resume is True and cfg.load_from is None and cfg.work_dir == str(tmp_path)
    ckpt = tmp_path / "epoch_1.pth"
    ckpt.write_bytes(b"")
    cfg = _prepare("--resume", str(ckpt), "--launcher", "pytorch")
    assert cfg.resume is True and cfg.load_from == str(ckpt) and cfg.launcher == "pytorch"
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        _prepare("--resume", str(tmp_path / "missing.pth"))
    cfg = _prepare("--no-validate")
    assert cfg.val_cfg is None and cfg.val_dataloader is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU behaviour")
def test_cpu_amp_error_and_syncbn_fallback(caplog):
    with pytest.raises(RuntimeError, match="--amp needs a CUDA device"):
        _prepare("--amp")
    caplog.clear()
    with caplog.at_level("WARNING", logger="visionssm"):
        cfg = _prepare()
    assert cfg.model.backbone.norm_cfg.type == "BN"  # the config says SyncBN, which needs CUDA
    logged = [r.getMessage() for r in caplog.records if "SyncBN" in r.getMessage()]
    assert len(logged) == 1 and "plain BN" in logged[0] and "model.backbone.norm_cfg" in logged[0], logged


def test_test_tool_show_flags(tmp_path, monkeypatch):
    from visionssm.cli.test import parse_args
    with pytest.raises(SystemExit):
        parse_args([DET, str(tmp_path / "c.pth"), "--wait-time", "1"])  # --wait-time only means something with --show
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(SystemExit):
        parse_args([DET, str(tmp_path / "c.pth"), "--show"])  # headless: one line pointing at --show-dir
    assert parse_args([DET, str(tmp_path / "c.pth"), "--show-dir", "vis"]).show_dir == "vis"


@pytest.mark.slow
def test_test_tool_rejects_missing_checkpoint(tmp_path):
    with pytest.raises(AssertionError, match="checkpoint .*nope.pth not found"):
        run_tool([ROOT / "tools" / "test.py", DET, tmp_path / "nope.pth"])
