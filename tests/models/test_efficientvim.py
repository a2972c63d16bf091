"""EfficientViM through timm's implementation: official checkpoint parity, kwargs map, timm-version error, mm wrapper."""
import sys

import pytest
import timm
import torch

import visionssm  # noqa: F401  (registers the models)
from visionssm.convert import CheckpointError, from_official
from visionssm.convert.efficientvim import MIN_TIMM, kwargs_from_official
from visionssm.models import efficientvim

from ._fixture_parity import official_fixture, pretrained_from_file

official = official_fixture("efficientvim")

RELEASED = {  # classification/models/EfficientViM.py EfficientViM_M1..M4 at the fixture's commit
    "efficientvim_m1": dict(embed_dim=[128, 192, 320], depths=[2, 2, 2], state_dim=[49, 25, 9]),
    "efficientvim_m2": dict(embed_dim=[128, 256, 512], depths=[2, 2, 2], state_dim=[49, 25, 9]),
    "efficientvim_m3": dict(embed_dim=[224, 320, 512], depths=[2, 2, 2], state_dim=[49, 25, 9]),
    "efficientvim_m4": dict(embed_dim=[224, 320, 512], depths=[3, 4, 2], state_dim=[64, 32, 16]),
}


def _stage_outputs(model, x):
    """Each stage's map (before its downsample) and the hidden state of its last block (before the head norm)."""
    maps, states = [], []
    x = model.patch_embed(x)
    for stage in model.stages:
        x_out, x, h = stage(x)
        maps.append(x_out)
        states.append(h)
    return maps, states


def test_official_parity(official):
    cfg, model, x, logits, features, _ = official
    assert type(model) is efficientvim.require_timm_efficientvim().EfficientViM  # timm's class, not a copy
    assert sum(p.numel() for p in model.parameters()) == cfg["num_params"]
    with torch.no_grad():
        torch.testing.assert_close(model(x), logits, atol=1e-4, rtol=1e-4)
        maps, states = _stage_outputs(model, x)
        inter = model.forward_intermediates(x, intermediates_only=True)
    assert len(features) == 6
    for got, want in zip(maps + states, features):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    for got, want in zip(inter, features[:3]):  # forward_intermediates: the raw stage maps (norm=False)
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_timm_pretrained_file_route(official):
    """timm.create_model(pretrained=True) with the official .pth goes through our checkpoint_filter_fn."""
    cfg, _, x, logits, _, d = official
    kw = kwargs_from_official(cfg["official_kwargs"])
    kw.pop("distilled")
    model = pretrained_from_file("test_efficientvim", d, 10, **kw)
    with torch.no_grad():
        torch.testing.assert_close(model(x), logits, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_released_official_kwargs_build_timms_variant(name):
    official_kwargs = dict(RELEASED[name], mlp_ratio=4.0, ssd_expand=1.0, distillation=False)
    ours = from_official("efficientvim", official_kwargs)
    with torch.device("meta"):
        timms = timm.create_model(name)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in timms.state_dict().items()}


def test_distilled_checkpoint_needs_the_distilled_model(official):
    cfg, _, _, _, _, d = official
    sd = torch.load(d / "checkpoint.pth", weights_only=True)["model"]
    extra = {"weights_dist": torch.ones(4), **{f"heads_dist.{i}.weight": sd[f"heads.{i}.weight"] for i in range(4)},
             **{f"heads_dist.{i}.bias": sd[f"heads.{i}.bias"] for i in range(4)}}
    dist = from_official("efficientvim", dict(cfg["official_kwargs"], distillation=True), {"model": {**sd, **extra}})
    assert type(dist).__name__ == "EfficientViMDistilled" and dist.weights_dist.shape == (4,)
    with pytest.raises(CheckpointError, match="looks like: an unreleased EfficientViM"):
        from_official("efficientvim", dict(cfg["official_kwargs"], depths=[1, 1, 1]), str(d / "checkpoint.pth"))


def test_too_old_timm_names_the_version(monkeypatch, official):
    monkeypatch.setitem(sys.modules, "timm.models.efficientvim", None)  # `import` raises ImportError
    monkeypatch.setattr(timm, "__version__", "1.0.26")
    for call in (lambda: from_official("efficientvim", official[0]["official_kwargs"]),
                 lambda: efficientvim._needs_newer_timm("efficientvim_m1")()):
        with pytest.raises(ImportError) as e:
            call()
        msg = str(e.value)
        assert f"timm>={MIN_TIMM}" in msg and "installed timm 1.0.26" in msg and "\n" not in msg


def test_features_only_is_timms():
    model = timm.create_model("test_efficientvim", features_only=True).eval()
    assert model.feature_info.reduction() == [16, 32, 64] and model.feature_info.channels() == [16, 24, 32]
    with torch.no_grad():
        maps = model(torch.randn(1, 3, 128, 96))
    assert [tuple(m.shape) for m in maps] == [(1, 16, 8, 6), (1, 24, 4, 3), (1, 32, 2, 2)]


def test_mm_backbone_wrapper(official):
    pytest.importorskip("mmengine")
    from visionssm.mm import VisionSSMBackbone

    cfg, model, x, _, features, d = official
    by_name = VisionSSMBackbone(model_name="test_efficientvim", out_indices=(0, 1, 2), out_norm="ln2d").eval()
    assert by_name.channels == [16, 24, 32] and by_name.strides == [16, 32, 64]
    official_bb = VisionSSMBackbone(official=dict(family="efficientvim", kwargs=cfg["official_kwargs"],
                                                  checkpoint=str(d / "checkpoint.pth")),
                                    out_indices=(0, 1, 2), out_norm=None).eval()
    with torch.no_grad():
        outs = official_bb(x)
        assert len(by_name(torch.randn(1, 3, 64, 64))) == 3
    for got, want in zip(outs, features[:3]):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("trans,extra,sides", [(2, "pool", [32, 16, 8, 4, 2]), (1, "on_input", [16, 8, 4, 2, 1])])
def test_transposed_fpn_levels(trans, extra, sides):
    """The detection neck of the configs: Mask R-CNN levels 4..64 (two transposed convs, pooled top), RetinaNet
    8..128 (one transposed conv, a stride-2 conv on the last map)."""
    pytest.importorskip("mmengine")
    from visionssm.mm import VisionSSMBackbone
    from visionssm.mm.transposed_fpn import TransposedFPN

    backbone = VisionSSMBackbone(model_name="test_efficientvim", out_indices=(0, 1, 2)).eval()
    neck = TransposedFPN(backbone.channels, 8, num_outs=5, num_trans_levels=trans, extra=extra)
    neck.init_weights()
    with torch.no_grad():
        outs = neck(backbone(torch.randn(1, 3, 128, 128)))
    assert [o.shape[-1] for o in outs] == sides and all(o.shape[1] == 8 for o in outs)
    with pytest.raises(ValueError, match="fewer than the 3 inputs"):
        TransposedFPN(backbone.channels, 8, num_outs=4, num_trans_levels=2)
