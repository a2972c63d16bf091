"""MSVMamba (master): parity with the official code (shared fixtures), checkpoint formats, sizes, scan swap."""
import pytest
import timm
import torch

import visionssm  # noqa: F401  (registers the models)
from visionssm.convert import from_official, load_checkpoint_file
from visionssm.models import msvmamba as msv
from visionssm.models.published import PARAM_COUNTS

from . import _fixture_parity as parity

fixture, official_model = parity.family_fixtures("msvmamba")


def test_from_official_reproduces_logits_and_stage_features(fixture, official_model):
    parity.assert_logits_and_stage_features(official_model, fixture, atol=1e-4, rtol=1e-4)


def test_official_parameter_index_layout(official_model):
    """Direction 0 = half-res (7×7 s2 conv owned by the scan), direction 1 = full-res row scan."""
    mixer = official_model.stages[0].blocks[0].mixer
    assert mixer.scan.scan_name == "multiscale" and mixer.ssm.num_directions == 2
    assert tuple(mixer.scan.conv.weight.shape) == (mixer.d_inner, 1, 7, 7) and mixer.scan.conv.stride == (2, 2)


def test_timm_pretrained_file_loads_official_container(fixture):
    kw = fixture["cfg"]["official_kwargs"]
    model = parity.pretrained_from_file("msvmamba_nano", fixture["dir"], kw["num_classes"], depths=kw["depths"],
                                        dims=kw["dims"], num_classes=kw["num_classes"])
    with torch.no_grad():
        torch.testing.assert_close(model(fixture["input"]), fixture["logits"], atol=1e-4, rtol=1e-4)


def test_checkpoint_filter_is_idempotent(fixture, official_model):
    raw = load_checkpoint_file(fixture["dir"] / "checkpoint.pth")
    assert "model" in raw
    converted = msv.checkpoint_filter_fn(raw, official_model)
    assert set(converted) == set(official_model.state_dict())
    prefixed = msv.checkpoint_filter_fn({"model": {"module." + k: v for k, v in raw["model"].items()}})
    assert prefixed.keys() == converted.keys()
    again = msv.checkpoint_filter_fn(converted, official_model)
    assert again.keys() == converted.keys() and all(again[k] is converted[k] for k in converted)


def test_mismatched_checkpoint_names_keys_and_variant(fixture):
    kwargs = dict(fixture["cfg"]["official_kwargs"], depths=[1, 1, 1, 1])  # one block fewer in stage 3
    with pytest.raises(RuntimeError, match=r"(?s)unexpected keys, first: \['stages\.2\.blocks\.1\..*looks like"):
        from_official("msvmamba", kwargs, str(fixture["dir"] / "checkpoint.pth"))
    sd = dict(load_checkpoint_file(fixture["dir"] / "checkpoint.pth")["model"])
    del sd["layers.1.blocks.0.op.conv2d_b1.weight"]
    with pytest.raises(RuntimeError, match=r"1 missing keys, first: \['stages\.1\.blocks\.0\.mixer\.scan\.conv"):
        from_official("msvmamba", fixture["cfg"]["official_kwargs"], {"model": sd})


def test_guess_variant_recognises_released_shapes():
    sd = timm.create_model("msvmamba_micro", pretrained=False).state_dict()
    assert msv.guess_variant(sd) == "msvmamba_micro"


def test_unsupported_official_kwargs_fail_clearly(fixture):
    with pytest.raises(NotImplementedError, match="ms_split"):
        from_official("msvmamba", dict(fixture["cfg"]["official_kwargs"], ms_split=[1, 2]))


def test_ms_stage_falls_back_to_cross_scan(fixture):
    model = from_official("msvmamba", dict(fixture["cfg"]["official_kwargs"], ms_stage=[0, 1]))
    names = [s.blocks[0].mixer.scan.scan_name for s in model.stages]
    assert names == ["multiscale", "multiscale", "cross", "cross"]
    assert model.stages[3].blocks[0].mixer.ssm.num_directions == 4


@pytest.mark.parametrize("size", [(67, 93), (33, 33), (48, 80)])
def test_odd_and_non_square_inputs(size):
    model = timm.create_model("test_msvmamba", num_classes=5).eval()
    parity.assert_stage_sizes_follow_padding(model, size, num_classes=5)


@pytest.mark.parametrize("scan", ["cross", "atrous"])
def test_scan_swap(scan):
    model = timm.create_model("test_msvmamba", scan=scan)
    assert model.stages[0].blocks[0].mixer.scan.scan_name == scan
    assert torch.isfinite(model(torch.randn(1, 3, 40, 56))).all()


def test_features_only_nchw():
    model = timm.create_model("test_msvmamba", features_only=True, out_indices=(1, 2, 3))
    feats = model(torch.randn(1, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in feats] == [(16, 8, 8), (32, 4, 4), (64, 2, 2)]


def test_full_size_parameter_counts_match_published():
    for name, millions in ((n, c) for n, c in PARAM_COUNTS.items() if n.startswith("msvmamba_")):
        count = parity.full_size_millions(name)
        assert abs(count - millions) / millions < 0.002, f"{name}: {count:.4f}M vs published {millions}M"
