"""PlainMamba: official parity (logits and features), checkpoint conversion, timm API, scan swaps."""
import pytest
import timm
import torch

import visionssm  # noqa: F401  (registers the models)
from visionssm.convert import CheckpointError, from_official, load_checkpoint_file
from visionssm.convert.plainmamba import convert_official, kwargs_from_official
from visionssm.models import plainmamba
from visionssm.scans.snake import SnakeScan

from ._fixture_parity import full_size_millions, official_fixture, pretrained_from_file

official = official_fixture("plainmamba")


def test_official_parity(official):
    cfg, model, x, logits, features, _ = official
    assert sum(p.numel() for p in model.parameters()) == cfg["num_params"]
    with torch.no_grad():
        tokens = model.forward_features(x)
        out = model.forward_head(tokens)
    torch.testing.assert_close(out, logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(tokens, features[0], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("backend", ["ref", "torch"])
def test_parity_on_other_cpu_backends(official, backend):
    cfg, _, x, logits, _, d = official
    model = from_official("plainmamba", cfg["official_kwargs"], str(d / "checkpoint.pth")).eval()
    for blk in model.blocks:
        blk.mixer.backend = backend
    with torch.no_grad():
        torch.testing.assert_close(model(x), logits, atol=1e-4, rtol=1e-4)


def test_timm_pretrained_file_route(official):
    """timm.create_model(pretrained=True, file=<official .pth>) converts the mmcls keys in checkpoint_filter_fn."""
    cfg, _, x, logits, _, d = official
    kw = kwargs_from_official(cfg["official_kwargs"])
    model = pretrained_from_file("plainmamba_l1", d, kw["num_classes"], **kw)
    with torch.no_grad():
        torch.testing.assert_close(model(x), logits, atol=1e-4, rtol=1e-4)


def test_checkpoint_filter_is_idempotent_and_strict(official):
    cfg, model, _, _, _, d = official
    raw = load_checkpoint_file(d / "checkpoint.pth")
    sd = plainmamba.checkpoint_filter_fn(raw, model)
    assert set(sd) == set(model.state_dict())
    assert plainmamba.checkpoint_filter_fn(sd, model).keys() == sd.keys()
    assert "blocks.0.mixer.direction_Bs" in sd and "head.weight" in sd and "norm.weight" in sd
    wrong = dict(cfg["official_kwargs"], backbone=dict(cfg["official_kwargs"]["backbone"], num_layers=3))
    with pytest.raises(CheckpointError, match="unexpected keys.*blocks.3"):
        from_official("plainmamba", wrong, str(d / "checkpoint.pth"))


def test_official_arch_presets_build_the_released_sizes():
    with torch.device("meta"):
        model = from_official("plainmamba", {"backbone": {"type": "PlainMamba", "arch": "L1"},
                                             "neck": {"type": "CustomAveragePooling"},
                                             "head": {"type": "LinearClsHead", "num_classes": 1000,
                                                      "in_channels": 192}})
    assert sum(p.numel() for p in model.parameters()) == 7_551_656  # official class, counted
    assert full_size_millions("plainmamba_l1") == pytest.approx(7.551656)
    assert full_size_millions("plainmamba_l3") == pytest.approx(50.956456)


def test_unsupported_official_kwargs_fail_clearly():
    with pytest.raises(NotImplementedError, match="use_rms_norm"):
        kwargs_from_official({"type": "PlainMamba", "layer_cfgs": {"use_rms_norm": True}})
    with pytest.raises(TypeError, match="unknown official PlainMamba kwarg 'foo'"):
        kwargs_from_official({"type": "PlainMamba", "foo": 1})
    with pytest.raises(NotImplementedError, match="arch 'L9'"):
        kwargs_from_official({"type": "PlainMamba", "arch": "L9"})


def test_key_map():
    sd = {"backbone.patch_embed.projection.weight": 1, "backbone.layers.2.mamba.A_log": 2,
          "backbone.layers.0.dw.1.running_var": 3, "backbone.ln1.bias": 4, "head.fc.weight": 5,
          "backbone.pos_embed": 6}
    assert convert_official(sd) == {"patch_embed.proj.weight": 1, "blocks.2.mixer.A_log": 2,
                                    "blocks.0.dw.1.running_var": 3, "norm.bias": 4, "head.weight": 5, "pos_embed": 6}


def test_other_input_sizes_and_pos_embed_resize(official):
    _, model, x, logits, _, _ = official
    with torch.no_grad():
        for size in [(128, 128), (64, 112), (81, 47)]:
            out = model(torch.nn.functional.interpolate(x, size=size, mode="bilinear"))
            assert out.shape == logits.shape and torch.isfinite(out).all()
    pos = torch.randn(1, 9, 4)
    assert plainmamba.resize_pos_embed(pos, (3, 3), (3, 3)) is pos
    assert plainmamba.resize_pos_embed(pos, (4, 5), (3, 3)).shape == (1, 20, 4)


def test_mixer_uses_the_snake_strategy_and_its_codes(official):
    mixer = official[1].blocks[0].mixer
    assert isinstance(mixer.scan, SnakeScan) and mixer.scan.scan_name == "snake"
    assert mixer.direction_Bs.shape == (5, 16)


@pytest.mark.parametrize("scan", ["diagonal_snake", "cross", "hilbert"])
def test_scan_swap(scan):
    model = timm.create_model("test_plainmamba", scan=scan, num_classes=3).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 80))
    assert out.shape == (1, 3) and torch.isfinite(out).all()


def test_token_scan_params_changes_the_mixer():
    """'raster' (official) reads Δ/B/C of row-major token t at step t; 'token' those of the visited token."""
    torch.manual_seed(0)
    a = plainmamba.PlainMambaMixer(8, d_state=4)
    b = plainmamba.PlainMambaMixer(8, d_state=4, scan_params="token")
    with torch.no_grad():
        for p in a.parameters():
            p.normal_()
        a.A_log.abs_()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 12, 8)
    with torch.no_grad():
        ya, yb = a(x, (3, 4))[0], b(x, (3, 4))[0]
    assert (ya - yb).abs().max() > 1e-2


def test_features_only_and_intermediates():
    model = timm.create_model("test_plainmamba", features_only=True, out_indices=(0, 2)).eval()
    with torch.no_grad():
        feats = model(torch.randn(2, 3, 64, 96))
    assert [tuple(f.shape) for f in feats] == [(2, 32, 4, 6), (2, 32, 4, 6)]
    full = timm.create_model("test_plainmamba").eval()
    with torch.no_grad():
        nlc = full.forward_intermediates(torch.randn(1, 3, 64, 64), indices=[1], output_fmt="NLC",
                                         intermediates_only=True)
    assert nlc[0].shape == (1, 16, 32)
    assert "blocks.0.mixer.A_log" in full.no_weight_decay()
