"""Safe loading of official release files, which pickle their run config next to the weights."""
import argparse
import sys
import types

import pytest
import timm
import torch

import visionssm  # noqa: F401
from visionssm.convert import load_checkpoint_file, load_state_dict_strict, unwrap_state_dict


class _Evil:
    def __reduce__(self):
        return (print, ("code ran",))


@pytest.fixture
def release_like_file(tmp_path, monkeypatch):
    """A file shaped like VMamba/Vim releases: weights + a yacs CfgNode + argparse args."""
    yacs = types.ModuleType("yacs")
    yacs_config = types.ModuleType("yacs.config")

    class CfgNode(dict):
        pass

    CfgNode.__module__ = "yacs.config"
    CfgNode.__qualname__ = "CfgNode"
    yacs_config.CfgNode = CfgNode
    monkeypatch.setitem(sys.modules, "yacs", yacs)
    monkeypatch.setitem(sys.modules, "yacs.config", yacs_config)
    path = tmp_path / "release.pth"
    model = torch.nn.Linear(3, 2)
    torch.save({"model": model.state_dict(), "config": CfgNode(MODEL=CfgNode(NAME="x")),
                "args": argparse.Namespace(lr=0.1), "epoch": 299}, path)
    return path, model


def test_release_file_loads_weights_only(release_like_file):
    path, model = release_like_file
    ckpt = load_checkpoint_file(path)
    assert ckpt["config"]["MODEL"]["NAME"] == "x" and ckpt["epoch"] == 299
    sd = unwrap_state_dict(ckpt)
    torch.testing.assert_close(sd["weight"], model.weight.detach())


def test_timm_loader_reads_release_file(release_like_file):
    path, _ = release_like_file
    sd = timm.models.load_state_dict(str(path), use_ema=False)
    assert set(sd) == {"weight", "bias"}


def test_arbitrary_objects_still_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model": {}, "payload": _Evil()}, path)
    with pytest.raises(RuntimeError, match="could not load checkpoint .* safely"):
        load_checkpoint_file(path)


def test_corrupt_file_clear_error(tmp_path):
    path = tmp_path / "broken.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="could not load checkpoint"):
        load_checkpoint_file(path)


def test_strict_load_names_keys():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 2))
    sd = model.state_dict()
    sd.pop("1.bias")
    sd["2.weight"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match=r"missing keys, first: \['1.bias'\][\s\S]*unexpected keys, first: \['2.weight'\]"):
        load_state_dict_strict(model, sd)
