"""Spatial-Mamba: official parity, checkpoint conversion and errors, fusion modes, timm API, scan swaps."""
import json

import pytest
import timm
import torch

import visionssm  # noqa: F401  (registers the models)
from visionssm.convert import from_official, load_checkpoint_file, load_state_dict_strict
from visionssm.convert.spatial_mamba import build_from_official
from visionssm.models.spatial_mamba import (
    SpatialMamba,
    checkpoint_filter_fn,
    guess_variant,
)
from visionssm.scans import list_scans
from visionssm.scans.spatial_fusion import SpatialFusionScan

# Parameter counts of the models the official constructor builds (instantiated and counted with
# classification/models/spatialmamba.py @71221eb); the published (rounded) 27M / 43M / 96M are in published.PARAM_COUNTS.
OFFICIAL_BUILD_PARAMS_M = {"spatial_mamba_tiny": 26.75, "spatial_mamba_small": 43.07, "spatial_mamba_base": 95.75}


@pytest.fixture(scope="module")
def fixture(fixtures_dir):
    d = fixtures_dir / "spatial_mamba"
    load = lambda name: torch.load(d / name, weights_only=True)  # noqa: E731
    return {"cfg": json.loads((d / "config.json").read_text()), "ckpt": str(d / "checkpoint.pth"),
                "x": load("input.pt"), "logits": load("logits.pt"), "features": load("features.pt")}


def _official_model(fixture, checkpoint=True):
    cfg = fixture["cfg"]
    return from_official(cfg["family"], cfg["official_kwargs"], fixture["ckpt"] if checkpoint else None).eval()


def _fusions(model):
    return [m for m in model.modules() if isinstance(m, SpatialFusionScan)]


def test_official_parity_logits_and_stage_features(fixture):
    model = _official_model(fixture)
    assert sum(p.numel() for p in model.parameters()) == fixture["cfg"]["num_params"]
    with torch.no_grad():
        logits = model(fixture["x"])
        feats = model.forward_intermediates(fixture["x"], intermediates_only=True)
    torch.testing.assert_close(logits, fixture["logits"], atol=1e-4, rtol=1e-4)
    assert len(feats) == len(fixture["features"]) == 4
    for ours, ref in zip(feats, fixture["features"]):
        torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_training_fusion_equals_eval_fusion(fixture):
    """The three dilated convs (official training branch) and the merged 11×11 kernel (eval) agree."""
    model = _official_model(fixture)
    with torch.no_grad():
        merged = model(fixture["x"])
    for f in _fusions(model):
        f.train()  # "auto" picks the dilated branch when training with grad enabled
    dilated = model(fixture["x"]).detach()
    assert (dilated - merged).abs().max() < 1e-5
    torch.testing.assert_close(dilated, fixture["logits"], atol=1e-4, rtol=1e-4)


def test_weights_loaded_after_an_eval_forward_are_used(fixture):
    """The official StateFusion caches its merged kernel at the first eval forward; ours must not."""
    model = _official_model(fixture, checkpoint=False)
    with torch.no_grad():
        stale = model(fixture["x"])  # random weights, eval mode: the official code would cache here
    sd = checkpoint_filter_fn(load_checkpoint_file(fixture["ckpt"]), model)
    load_state_dict_strict(model, sd)
    with torch.no_grad():
        out = model(fixture["x"])
    assert (stale - fixture["logits"]).abs().max() > 1e-2
    torch.testing.assert_close(out, fixture["logits"], atol=1e-4, rtol=1e-4)


def test_timm_offline_pretrained_file(fixture):
    kwargs = {"depths": (1, 1, 2, 1), "dims": 16, "num_classes": 10,
                  "pretrained_cfg_overlay": {"file": fixture["ckpt"], "num_classes": 10}}
    model = timm.create_model("spatial_mamba_tiny", pretrained=True, **kwargs).eval()
    feats_model = timm.create_model("spatial_mamba_tiny", pretrained=True, features_only=True, **kwargs).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(fixture["x"]), fixture["logits"], atol=1e-4, rtol=1e-4)
        for ours, ref in zip(feats_model(fixture["x"]), fixture["features"]):
            torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_mismatched_checkpoint_names_keys_and_variant(fixture):
    kwargs = dict(fixture["cfg"]["official_kwargs"], depths=[1, 1, 1, 1])
    with pytest.raises(RuntimeError) as err:
        from_official("spatial_mamba", kwargs, fixture["ckpt"])
    msg = str(err.value)
    assert "unexpected keys" in msg and "stages.2.blocks.1." in msg
    assert "a custom Spatial-Mamba (dims=16, depths=[1, 1, 2, 1])" in msg

    sd = dict(load_checkpoint_file(fixture["ckpt"])["model"])
    del sd["layers.0.blocks.0.self_attention.state_fusion.alpha"]
    with pytest.raises(KeyError, match="state_fusion lacks"):
        from_official("spatial_mamba", fixture["cfg"]["official_kwargs"], {"model": sd})
    sd = dict(load_checkpoint_file(fixture["ckpt"])["model"])
    del sd["layers.1.blocks.0.mlp.fc1.bias"]
    with pytest.raises(RuntimeError, match=r"1 missing keys, first: \['stages.1.blocks.0.mlp.fc1.bias'\]"):
        from_official("spatial_mamba", fixture["cfg"]["official_kwargs"], {"model": sd})


def test_checkpoint_filter_is_idempotent_and_strips_module_prefix(fixture):
    raw = load_checkpoint_file(fixture["ckpt"])
    ours = checkpoint_filter_fn(raw)
    prefixed = {"model": {"module." + k: v for k, v in raw["model"].items()}}
    assert checkpoint_filter_fn(prefixed).keys() == ours.keys()
    again = checkpoint_filter_fn(ours)
    assert again.keys() == ours.keys() and all(again[k] is ours[k] for k in ours)
    assert ours["stages.0.blocks.0.mixer.scan.kernels"].shape == (3, 32, 1, 3, 3)
    assert ours["stages.0.blocks.0.mixer.ssm.x_proj_weight"].shape == (1, 3, 32)


def test_unknown_official_kwargs_are_rejected():
    with pytest.raises(ValueError, match="unsupported official kwargs"):
        build_from_official({"depths": [1, 1, 1, 1], "dims": 16, "forward_type": "v2"})
    with pytest.raises(ValueError, match="patch_size must be 4"):
        build_from_official({"depths": [1, 1, 1, 1], "dims": 16, "patch_size": 2})


@pytest.mark.parametrize("name", sorted(OFFICIAL_BUILD_PARAMS_M))
def test_full_size_matches_official_build_and_is_recognised(name):
    with torch.device("meta"):
        model = timm.create_model(name)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == OFFICIAL_BUILD_PARAMS_M[name]
    assert guess_variant(model.state_dict()) == name


def test_odd_non_square_input_and_features():
    model = timm.create_model("test_spatial_mamba", num_classes=5).eval()
    x = torch.randn(1, 3, 45, 62)
    with torch.no_grad():
        assert model(x).shape == (1, 5)
        _, feats = model.forward_intermediates(x)
    expected = [(12, 16), (6, 8), (3, 4), (2, 2)]  # each stride-2 conv rounds up
    assert [tuple(f.shape[-2:]) for f in feats] == expected
    assert [f.shape[1] for f in feats] == [16, 32, 64, 128]


def test_grad_checkpointing_prune_and_param_groups():
    model = timm.create_model("test_spatial_mamba").eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = model.forward_features(x)
    model.set_grad_checkpointing(True)
    model.train()
    for m in model.modules():  # deterministic train mode: BN running stats and no drop path
        if isinstance(m, torch.nn.BatchNorm2d) or type(m).__name__ == "DropPath":
            m.eval()
    torch.testing.assert_close(model.forward_features(x), ref, atol=1e-5, rtol=1e-5)

    nwd = model.no_weight_decay()
    assert "stages.0.blocks.0.mixer.ssm.A_logs" in nwd and "stages.3.blocks.0.mixer.ssm.Ds" in nwd
    groups = timm.models.group_parameters(model, model.group_matcher())
    assert sum(len(g) for g in groups.values()) == len(list(model.parameters()))

    model.eval()
    with torch.no_grad():
        feats = model.forward_intermediates(x, indices=[0, 1, 2], intermediates_only=True)
        model.prune_intermediate_layers(indices=[0, 1, 2])
        _, pruned = model.forward_intermediates(x, indices=[0, 1, 2])
        assert len(model.stages) == 3 and model.num_features == 64
        assert model(x).shape == (1, 2, 2, 64)  # head removed, no pooling
    for a, b in zip(feats, pruned):
        torch.testing.assert_close(a, b)


def test_unpooled_output_is_nhwc_tokens():
    model = timm.create_model("test_spatial_mamba",
                              num_classes=0, global_pool="").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 2, 2, 128)
    assert model.pretrained_cfg["paper_ids"] == "arXiv:2410.15091"


_SCANS = list_scans()


@pytest.mark.parametrize("scan", _SCANS)
def test_every_registered_scan_runs_in_the_backbone(scan):
    model = SpatialMamba(depths=(1, 1, 1, 1), dims=8, num_classes=3, scan=scan)
    x = torch.randn(2, 3, 21, 30)
    out = model(x)
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_the_ncssd_mixer_is_rejected_clearly():
    with pytest.raises(ValueError, match="token mixer, not a scan order"):
        SpatialMamba(depths=(1, 1, 1, 1), dims=8, scan="ncssd")
