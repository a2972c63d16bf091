"""Safe loading of official release files, which pickle their run config next to the weights."""
import argparse
import sys
import types

import pytest
import timm
import torch

import visionssm  # noqa: F401
from visionssm.convert import CheckpointError, load_checkpoint_file, load_state_dict_strict, unwrap_state_dict


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


# -- checkpoint files that are broken in ways a user meets: one clear error naming the file (and tensor) and the fix
@pytest.fixture(scope="module")
def tiny_vmamba():
    return timm.create_model("test_vmamba", num_classes=3).eval()


def _save(path, sd):
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    return path


def test_truncated_safetensors_names_the_file(tmp_path, tiny_vmamba):
    path = _save(tmp_path / "w.safetensors", tiny_vmamba.state_dict())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"could not read .*w\.safetensors as safetensors .*truncated.*download"):
        load_checkpoint_file(path)


@pytest.mark.parametrize("bad", ["int", "nan", "inf"])
def test_non_float_or_non_finite_weights_refused_at_load(tmp_path, tiny_vmamba, bad, capsys):
    from visionssm.infer.classify import Classifier

    sd = {k: v.clone() for k, v in tiny_vmamba.state_dict().items()}
    key = "stages.0.blocks.0.mixer.in_proj.weight"
    if bad == "int":
        sd[key] = sd[key].round().to(torch.int64)
    else:
        sd[key][0, 0] = float(bad)
    path = _save(tmp_path / f"{bad}.safetensors", sd)
    with pytest.raises(RuntimeError) as e:
        Classifier.from_name("test_vmamba", str(path), device="cpu")
    msg = str(e.value)
    assert str(path) in msg and repr(key) in msg and "\n" not in msg and "learning rate" not in msg
    assert ("int64" in msg) if bad == "int" else ("NaN or Inf" in msg)
    assert capsys.readouterr().err == ""
    with pytest.raises(RuntimeError, match=key.replace(".", r"\.")):
        load_state_dict_strict(tiny_vmamba, sd, source=str(path))


def test_missing_keys_of_our_own_format_reported_once(tmp_path, tiny_vmamba, capsys):
    from visionssm.infer.classify import Classifier

    sd = dict(tiny_vmamba.state_dict())
    del sd["stages.1.blocks.0.norm1.weight"]
    path = _save(tmp_path / "ours.safetensors", sd)
    with pytest.raises(RuntimeError) as e:
        Classifier.from_name("test_vmamba", str(path), device="cpu")
    msg = str(e.value)
    assert msg.startswith(str(path)) and "1 missing keys, first: ['stages.1.blocks.0.norm1.weight']" in msg
    assert "official" not in msg.split(":")[1] and "\n" not in msg and "build the model that matches" in msg
    assert capsys.readouterr().err == ""  # nothing printed besides the one error


def test_official_release_that_fails_to_convert_names_the_file(tmp_path, capsys):
    from visionssm.infer.classify import Classifier

    official_like = {"layers.0.mixer.A_log": torch.zeros(4, 2), "norm_f.weight": torch.ones(8)}  # no backward twin
    path = _save(tmp_path / "release.safetensors", official_like)
    with pytest.raises(RuntimeError, match=r"release\.safetensors: .*official release failed: .*backward twin"):
        Classifier.from_name("test_vim", str(path), device="cpu")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("family", visionssm.models.FAMILIES)
def test_pretrained_file_with_nan_weights_refused_by_every_family(tmp_path, family):
    """timm's ``pretrained=True`` path runs the family's checkpoint_filter_fn, which checks the values."""
    sd = {k: v.clone() for k, v in timm.create_model(f"test_{family}").state_dict().items()}
    key = next(k for k, v in sd.items() if v.is_floating_point() and v.dim() == 2)
    sd[key].view(-1)[0] = float("nan")
    path = _save(tmp_path / f"{family}.safetensors", sd)
    with pytest.raises(RuntimeError, match=rf"{family}\.safetensors: tensor '{key}' holds NaN or Inf"):
        timm.create_model(f"test_{family}", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))


def test_convert_command_prints_one_line_for_a_broken_file(tmp_path, capsys):
    from visionssm.cli.convert import main as convert_main

    path = tmp_path / "release.pth"
    path.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(SystemExit) as e:
        convert_main([str(path), "--family", "vim", "--official-kwargs", "{}", "--model", "test_vim",
                      "--out-dir", str(tmp_path / "out")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: could not load checkpoint {path} safely") and "\n" not in err
