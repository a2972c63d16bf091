"""timm's model invariants, applied to every registered visionssm variant at a small size.

Each family module declares ``SMALL_TEST_CONFIGS`` (variant → kwargs that shrink depth/width but keep the
architecture) and registers a tiny ``test_<family>`` variant; ``published.PARAM_COUNTS`` holds the published
parameter count (millions) of every full-size variant.
"""
import importlib

import pytest
import timm
import torch

import visionssm  # noqa: F401  (registers the models)
from visionssm.models import FAMILIES
from visionssm.models.published import PARAM_COUNTS

DEFAULT_INPUT = 64


def _family_modules():
    return [importlib.import_module(f"visionssm.models.{f}") for f in FAMILIES]


def _small_variants():
    for family, mod in zip(FAMILIES, _family_modules()):
        yield pytest.param(f"test_{family}", {}, id=f"test_{family}")  # the tiny variant as registered
        for name, kwargs in getattr(mod, "SMALL_TEST_CONFIGS", {}).items():
            yield pytest.param(name, dict(kwargs), id=name)


def _published():
    for name, millions in PARAM_COUNTS.items():
        yield pytest.param(name, millions, id=name)


def _build(name, kwargs, **extra):
    kwargs = dict(kwargs)
    size = kwargs.pop("test_input_size", DEFAULT_INPUT)
    size = (size, size) if isinstance(size, int) else tuple(size)
    model = timm.create_model(name, pretrained=False, **kwargs, **extra)
    return model, size


def test_every_registered_variant_has_small_config():
    registered = set()
    for mod in _family_modules():
        registered |= set(getattr(mod, "SMALL_TEST_CONFIGS", {}))
    ours = set(visionssm.models.registered_model_names())
    assert ours, "no visionssm model registered with timm"
    assert ours == registered, f"variants without SMALL_TEST_CONFIGS: {sorted(ours - registered)}"
    assert set(PARAM_COUNTS) == ours, "published.PARAM_COUNTS must cover exactly the registered variants"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_has_a_tiny_test_variant(family):
    """timm's convention (``test_vit``, ...): a few blocks, small widths, a small default input, no weights."""
    name = f"test_{family}"
    assert name in timm.list_models(module=family) and name in visionssm.models.registered_model_names(True)
    assert name not in visionssm.models.registered_model_names()  # no card, no benchmark row
    model = timm.create_model(name, num_classes=3).eval()
    size = model.pretrained_cfg["input_size"]
    assert size[1] <= 96 and size[2] <= 96
    assert sum(p.numel() for p in model.parameters()) < 1e6
    assert not model.pretrained_cfg.get("hf_hub_id") and not model.pretrained_cfg.get("url")
    with torch.no_grad():
        assert model(torch.randn(2, *size)).shape == (2, 3)


@pytest.mark.parametrize("name,kwargs", list(_small_variants()))
def test_forward_backward_and_heads(name, kwargs):
    model, size = _build(name, kwargs, num_classes=7)
    x = torch.randn(2, 3, *size)
    out = model(x)
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    out.square().mean().backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"parameters not reached by backward: {no_grad[:5]}"

    model.eval()
    with torch.no_grad():
        feats = model.forward_features(x)
        final, intermediates = model.forward_intermediates(x)
        torch.testing.assert_close(final, feats)
        assert len(intermediates) == len(model.feature_info)
        pre = model.forward_head(feats, pre_logits=True)
        assert pre.shape == (2, model.num_features) or pre.shape[-1] == getattr(model, "head_hidden_size", -1)
        model.reset_classifier(0)
        assert model.get_classifier() is not None
        assert model(x).shape[:1] == (2,) and model(x).shape[-1] in (model.num_features,
                                                                        getattr(model, "head_hidden_size", -1))


@pytest.mark.parametrize("name,kwargs", list(_small_variants()))
def test_global_pool_empty_keeps_spatial(name, kwargs):
    model, size = _build(name, kwargs, num_classes=0, global_pool="")
    with torch.no_grad():
        out = model.eval()(torch.randn(1, 3, *size))
    # a multi-branch head (EfficientViM: per-stage hidden states + final map) returns each branch unpooled
    for t in out if isinstance(out, list) else [out]:
        assert t.dim() in (3, 4), f"global_pool='' should return unpooled features, got {tuple(t.shape)}"


@pytest.mark.parametrize("name,kwargs", list(_small_variants()))
def test_features_only_levels_and_strides(name, kwargs):
    model, size = _build(name, kwargs, features_only=True)
    with torch.no_grad():
        feats = model.eval()(torch.randn(1, 3, *size))
    info = model.feature_info
    assert len(feats) == len(info.channels())
    for f, ch, red in zip(feats, info.channels(), info.reduction()):
        assert f.dim() == 4 and f.shape[1] == ch, f"feature is not NCHW with {ch} channels: {tuple(f.shape)}"
        # a stride-r patch embedding with a kernel larger than r (Vim stride 8, kernel 16) loses one position
        assert abs(f.shape[-1] - size[1] / red) <= 1, f"width {f.shape[-1]} does not match reduction {red} of input {size}"


@pytest.mark.parametrize("name,kwargs", list(_small_variants()))
def test_pretrained_cfg_fields(name, kwargs):
    cfg = timm.models.get_pretrained_cfg(name)
    assert cfg is not None
    d = cfg.to_dict()
    for field in ("license", "input_size", "mean", "std", "crop_pct", "first_conv", "classifier", "paper_ids"):
        assert d.get(field) not in (None, ""), f"{name}: pretrained cfg lacks {field}"
    assert d.get("url") is not None or d.get("hf_hub_id") is not None


@pytest.mark.parametrize("name,kwargs", list(_small_variants()))
def test_in_chans(name, kwargs):
    model, size = _build(name, kwargs, in_chans=1, num_classes=3)
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 1, *size)).shape == (1, 3)


@pytest.mark.parametrize("name,millions", list(_published()))
def test_full_size_parameter_count(name, millions):
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
    count = sum(p.numel() for p in model.parameters()) / 1e6
    # published counts are rounded (often to whole millions): allow 2% or half a million, whichever is larger
    assert abs(count - millions) <= max(0.02 * millions, 0.5), f"{name}: {count:.2f}M parameters, published {millions}M"
