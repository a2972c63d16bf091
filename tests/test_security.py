"""A crafted checkpoint never runs code through any entry point, even with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``.

That variable turns torch's *default* into an unpickling load that executes whatever the file says; every path
of ours passes ``weights_only=True`` explicitly (mmengine's loaders through ``visionssm.mm.checkpoint_compat``),
which the variable cannot override. The payload's ``__reduce__`` creates a marker file when unpickled.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


class _Payload:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling this creates the marker file


@pytest.fixture
def evil(tmp_path, monkeypatch):
    """(checkpoint path, marker path) with the unsafe-default variable set for this test."""
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "meta": {"x": _Payload(marker)}}, path)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    assert not marker.exists()
    return path, marker


def _cls_config(tmp_path: Path, extra: str = "") -> Path:
    pytest.importorskip("mmengine")
    from tests.mm.mm_helpers import CONFIGS, make_imagenet, tiny_cls_body, write_config

    data = make_imagenet(tmp_path / "imagenet", per_class=1)
    body = tiny_cls_body(data, tmp_path / "work", max_epochs=1) + extra
    return write_config(tmp_path / "cls.py", CONFIGS / "classification" / "vmamba-tiny-s1l8_8xb128_in1k.py", body)


@pytest.mark.mm
def test_train_resume_refuses(evil, tmp_path):
    from visionssm.cli.train import main
    from visionssm.mm.loading import CheckpointError

    path, marker = evil
    with pytest.raises(CheckpointError, match="safely"):
        main([str(_cls_config(tmp_path)), "--resume", str(path)])
    assert not marker.exists()


@pytest.mark.mm
def test_train_load_from_refuses(evil, tmp_path):
    from visionssm.cli.train import main
    from visionssm.mm.loading import CheckpointError

    path, marker = evil
    with pytest.raises(CheckpointError, match="safely"):
        main([str(_cls_config(tmp_path)), "--cfg-options", f"load_from={path}"])
    assert not marker.exists()


@pytest.mark.mm
def test_test_tool_refuses_with_one_line_and_exit_1(evil, tmp_path):
    path, marker = evil
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "test.py"), str(_cls_config(tmp_path)), str(path),
                          "--work-dir", str(tmp_path / "t")], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr[-3000:]
    assert "error: could not load checkpoint" in res.stderr and "Traceback" not in res.stderr, res.stderr[-3000:]
    assert "weights_only=False" not in res.stderr
    assert not marker.exists()


@pytest.mark.mm
def test_mmengine_loaders_pass_weights_only(evil):
    """Direct use of mmengine's own API after ``import visionssm.mm`` (configs' ``init_cfg`` / ``load_checkpoint``)."""
    from mmengine.runner.checkpoint import _load_checkpoint

    import visionssm.mm  # noqa: F401

    path, marker = evil
    with pytest.raises(Exception, match="(?i)weights"):
        _load_checkpoint(str(path), map_location="cpu")
    assert not marker.exists()


def test_infer_refuses(evil, tmp_path):
    from PIL import Image

    from visionssm.cli.infer import main

    path, marker = evil
    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "imgs" / "a.png")
    with pytest.raises((RuntimeError, SystemExit)):
        main([str(tmp_path / "imgs"), "--model", "vmamba_tiny_s1l8", "--checkpoint", str(path),
              "--out-dir", str(tmp_path / "out"), "--model-kwargs", "depths=(1,1,1)", "dims=8", "--no-progress"])
    assert not marker.exists()


def test_convert_refuses(evil, tmp_path):
    from visionssm.cli.convert import main

    path, marker = evil
    with pytest.raises((RuntimeError, SystemExit)):
        main([str(path), "--family", "vmamba", "--official-kwargs", json.dumps({"depths": [1, 1, 1, 1], "dims": 8}),
              "--model", "vmamba_tiny_s1l8", "--out-dir", str(tmp_path / "conv")])
    assert not marker.exists()


def test_timm_pretrained_file_refuses(evil):
    import timm

    import visionssm  # noqa: F401

    path, marker = evil
    with pytest.raises(Exception):  # noqa: B017  (timm's own error type; what matters is that nothing ran)
        timm.create_model("vmamba_tiny_s1l8", pretrained=True, pretrained_cfg_overlay={"file": str(path)},
                          depths=(1, 1, 1), dims=8)
    assert not marker.exists()


def test_payload_runs_under_torch_default(evil):
    """The fixture is a real exploit: with the variable set, torch's default load runs it (so the tests above can
    fail), which is why every load of ours states ``weights_only=True``."""
    path, marker = evil
    torch.load(path)
    assert marker.exists()
