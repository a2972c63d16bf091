"""EfficientVMamba: parity with the official code (shared fixtures), checkpoint formats, sizes, scan swap."""
import pytest
import timm
import torch

import visionssm  # noqa: F401  (registers the models)
from visionssm.convert import from_official, load_checkpoint_file
from visionssm.models import efficient_vmamba as evm
from visionssm.models.published import PARAM_COUNTS

from . import _fixture_parity as parity

fixture, official_model = parity.family_fixtures("efficientvmamba")


def test_from_official_reproduces_logits_and_stage_features(fixture, official_model):
    parity.assert_logits_and_stage_features(official_model, fixture, atol=1e-4, rtol=1e-4)


def test_timm_pretrained_file_loads_official_container(fixture):
    """timm.create_model(pretrained=True, file=official .pth) goes through checkpoint_filter_fn."""
    kw = fixture["cfg"]["official_kwargs"]
    model = parity.pretrained_from_file("efficient_vmamba_tiny", fixture["dir"], kw["num_classes"], depths=kw["depths"],
                                        dims=kw["dims"], num_classes=kw["num_classes"])
    with torch.no_grad():
        torch.testing.assert_close(model(fixture["input"]), fixture["logits"], atol=1e-4, rtol=1e-4)


def test_checkpoint_filter_is_idempotent_and_strips_module_prefixes(fixture, official_model):
    raw = load_checkpoint_file(fixture["dir"] / "checkpoint.pth")
    assert next(iter(raw["state_dict"])).startswith("module.module.")
    converted = evm.checkpoint_filter_fn(raw, official_model)
    assert set(converted) == set(official_model.state_dict())
    again = evm.checkpoint_filter_fn(converted, official_model)
    assert again.keys() == converted.keys() and all(again[k] is converted[k] for k in converted)


def test_mismatched_checkpoint_names_keys_and_variant(fixture):
    kwargs = dict(fixture["cfg"]["official_kwargs"], dims=24)  # wrong width for this checkpoint
    expected = r"(?s)shape mismatches, first: .*looks like: no released variant \(dims=16, depths=\[1, 1, 2, 1\]\)"
    with pytest.raises(RuntimeError, match=expected):
        from_official("efficientvmamba", kwargs, str(fixture["dir"] / "checkpoint.pth"))
    raw = load_checkpoint_file(fixture["dir"] / "checkpoint.pth")
    sd = dict(raw["state_dict"])
    del sd["module.module.layers.0.blocks.0.op.A_logs"]
    with pytest.raises(RuntimeError, match=r"1 missing keys, first: \['stages\.0\.blocks\.0\.mixer\.ssm\.A_logs'\]"):
        from_official("efficientvmamba", fixture["cfg"]["official_kwargs"], {"state_dict": sd})


def test_guess_variant_recognises_released_shapes():
    sd = timm.create_model("efficient_vmamba_small", pretrained=False).state_dict()
    assert evm.guess_variant(sd) == "efficient_vmamba_small"


def test_unsupported_official_kwargs_fail_clearly(fixture):
    with pytest.raises(NotImplementedError, match="downsample_version='v1'"):
        from_official("efficientvmamba", dict(fixture["cfg"]["official_kwargs"], downsample_version="v2"))


@pytest.mark.parametrize("size", [(67, 93), (33, 33), (48, 80)])
def test_odd_and_non_square_inputs(size):
    model = timm.create_model("test_efficient_vmamba", num_classes=5).eval()
    parity.assert_stage_sizes_follow_padding(model, size, num_classes=5)


@pytest.mark.parametrize("scan", ["cross", "multiscale"])
def test_scan_swap(scan):
    model = timm.create_model("test_efficient_vmamba", scan=scan)
    assert model.stages[0].blocks[0].mixer.scan.scan_name == scan
    out = model(torch.randn(1, 3, 40, 56))
    assert torch.isfinite(out).all()


def test_features_only_nchw_and_no_weight_decay():
    model = timm.create_model("test_efficient_vmamba", features_only=True)
    feats = model(torch.randn(1, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in feats] == [(8, 16, 16), (16, 8, 8), (32, 4, 4), (64, 2, 2)]
    clf = timm.create_model("test_efficient_vmamba")
    nwd = clf.no_weight_decay()
    assert "stages.0.blocks.0.mixer.ssm.A_logs" in nwd and "stages.1.blocks.0.mixer.ssm.Ds" in nwd


def test_full_size_parameter_counts_match_published():
    for name, millions in ((n, c) for n, c in PARAM_COUNTS.items() if n.startswith("efficient_vmamba_")):
        count = parity.full_size_millions(name)
        assert abs(count - millions) < 0.001, f"{name}: {count:.4f}M vs published {millions}M"
