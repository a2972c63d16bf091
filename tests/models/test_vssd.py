"""VSSD: official parity (logits and stage features), any input size, timm API, the NC-SSD mixer."""
import pytest
import timm
import torch

import visionssm  # noqa: F401  (registers the models)
from visionssm.convert import from_official
from visionssm.convert.vssd import kwargs_from_official
from visionssm.layers.ncssd import NonCausalSSD
from visionssm.models import vssd
from visionssm.models.published import PARAM_COUNTS

from ._fixture_parity import full_size_millions, official_fixture, pretrained_from_file

official = official_fixture("vssd")


def test_official_parity(official):
    cfg, model, x, logits, features, _ = official
    assert sum(p.numel() for p in model.parameters()) == cfg["num_params"]
    with torch.no_grad():
        out = model(x)
        final, stages = model.forward_intermediates(x)
    assert torch.allclose(out, logits, atol=1e-4, rtol=1e-4), (out - logits).abs().max()
    assert len(stages) == len(features) == 4
    for got, want in zip(stages, features):
        assert got.shape == want.shape
        assert torch.allclose(got, want, atol=1e-4, rtol=1e-4), (got - want).abs().max()


def test_timm_pretrained_file_route(official):
    cfg, _, x, logits, _, d = official
    kw = kwargs_from_official(cfg["official_kwargs"])
    model = pretrained_from_file("vssd_micro", d, 10, **kw)
    with torch.no_grad():
        assert torch.allclose(model(x), logits, atol=1e-4, rtol=1e-4)


def test_mixer_is_ncssd(official):
    mixer = official[1].stages[0].blocks[0].mixer
    assert isinstance(mixer.op, NonCausalSSD) and mixer.op.positive_dA
    with pytest.raises(ValueError, match="'mixer'"):
        timm.create_model("test_vssd", scan="cross")


@pytest.mark.parametrize("size", [(72, 104), (50, 33), (96, 96)])
def test_any_input_size(official, size):
    """Maps follow the conv arithmetic ceil(H / 2) per stride-2 conv, so sides need not divide by 32."""
    model = official[1]
    features = timm.create_model("test_vssd", features_only=True).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *size))
        maps = features(torch.randn(1, 3, *size))
    assert out.shape == (1, 10) and torch.isfinite(out).all()
    for i, f in enumerate(maps):
        h, w = size
        for _ in range(i + 2):
            h, w = (h + 1) // 2, (w + 1) // 2
        assert f.shape[-2:] == (h, w)
    assert features.feature_info.reduction() == [4, 8, 16, 32]
    assert features.feature_info.channels() == [16, 32, 64, 128]


def test_mismatched_checkpoint_names_keys_and_variant(official):
    cfg, _, _, _, _, d = official
    wrong = dict(cfg["official_kwargs"], depths=[1, 1, 1, 1])
    with pytest.raises(RuntimeError, match=r"unexpected keys, first: \['stages\.2\.blocks\.1\.") as e:
        from_official("vssd", wrong, str(d / "checkpoint.pth"))
    assert "looks like" in str(e.value) and "depths [1, 1, 2, 1]" in str(e.value)
    with pytest.raises(NotImplementedError, match="linear_attn_duality"):
        kwargs_from_official(dict(cfg["official_kwargs"], linear_attn_duality=False))


@pytest.mark.parametrize("name", sorted(vssd.SMALL_TEST_CONFIGS))
def test_published_param_counts(name):
    millions = full_size_millions(name)
    assert abs(millions - PARAM_COUNTS[name]) < 0.5, millions  # README rounds to whole millions


def test_api():
    model = timm.create_model("test_vssd", num_classes=3).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape == (2, 128, 2, 2)
        assert torch.allclose(model.forward_head(feats, pre_logits=True), feats.mean((2, 3)))
        model.reset_classifier(0, "")
        assert model(x).shape == (2, 128, 2, 2)
    assert {"stages.0.blocks.0.mixer.A_log", "stages.0.blocks.0.mixer.D", "stages.2.blocks.0.mixer.dt_bias"} \
        <= model.no_weight_decay()
    assert model.get_classifier() is model.head.fc
