"""timm's own model tests (``tests/test_models.py`` of timm 1.0.31, not shipped in the wheel), ported over one
small config per visionssm family: forward, backward, default cfgs, features, intermediates, torch.fx forward and
backward (timm's notrace mechanism + torchvision's feature extractor, as timm runs them) and TorchScript.

Vim is in the non-standard list, as timm puts ViTs there: token output, no ``features_only`` hierarchy.
TorchScript is declared excluded per family with its reason (as timm's ``EXCLUDE_JIT_FILTERS``); a test checks
that the excluded families are exactly those that do not script.
"""
import math

import pytest
import timm
import torch
from timm.layers import get_channel_dim, get_spatial_dim
from timm.models import get_notrace_functions, get_notrace_modules

from tests.export.families import FAMILIES, build_small

NON_STD_FAMILIES = ("vim",)
STD_FAMILIES = tuple(f for f in FAMILIES if f not in NON_STD_FAMILIES)
BATCH = 2

# family -> why torch.jit.script fails (timm's EXCLUDE_JIT_FILTERS with reasons); TorchScript is in maintenance
# mode upstream, torch.compile / torch.export cover deployment (tests/export).
_SCAN_TYPES = "scan strategies (visionssm/scans) take Python-only types (a DirectionalSSM or nn.Module argument)"
EXCLUDE_JIT = {
    "vmamba_v0": _SCAN_TYPES,
    "vmamba_v2": "the cross-scan strategy class redefines forward, which TorchScript cannot compile",
    "vim": _SCAN_TYPES,
    "efficient_vmamba": _SCAN_TYPES,
    "msvmamba": _SCAN_TYPES,
    "spatial_mamba": _SCAN_TYPES,
    "vssd": "the MLLA block calls a Conv2d passed to it as an argument (layers/mlla_block.py)",
}


def _input(size, batch=BATCH):
    return torch.randn(batch, *size)


def _fx_model(model, train=False):
    """timm's ``_create_fx_model``: trace with timm's notrace modules/functions, return the last node."""
    from torchvision.models.feature_extraction import NodePathTracer, create_feature_extractor, get_graph_node_names
    tracer_kwargs = dict(leaf_modules=get_notrace_modules(), autowrap_functions=get_notrace_functions(),
                         param_shapes_constant=True)
    train_nodes, eval_nodes = get_graph_node_names(model, tracer_kwargs=tracer_kwargs)
    eval_return_nodes, train_return_nodes = [eval_nodes[-1]], [train_nodes[-1]]
    if train:
        graph = NodePathTracer(**tracer_kwargs).trace(model)
        graph_nodes = list(reversed(graph.nodes))
        output_names = [n.name for n in graph_nodes[0]._input_nodes]
        names = [n.name for n in graph_nodes]
        train_return_nodes = [train_nodes[-names.index(name)] for name in output_names]
    return create_feature_extractor(model, train_return_nodes=train_return_nodes,
                                    eval_return_nodes=eval_return_nodes, tracer_kwargs=tracer_kwargs)


@pytest.mark.parametrize("family", FAMILIES)
def test_model_forward(family):
    model, size = build_small(family)
    model.eval()
    x = _input(size, 1)
    out = model(x)
    assert out.shape[0] == 1 and not torch.isnan(out).any()
    model.set_grad_checkpointing()
    torch.testing.assert_close(model(x), out, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_model_backward(family):
    model, size = build_small(family, num_classes=42)
    model.train()
    out = model(_input(size))
    out.mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"
    assert out.shape[-1] == 42 and not torch.isnan(out).any()


def _check_names(state_dict, cfg):
    classifier = cfg["classifier"] if isinstance(cfg["classifier"], (tuple, list)) else (cfg["classifier"],)
    for c in classifier:
        assert c + ".weight" in state_dict, f"{c} not in model params"
    first_conv = (cfg["first_conv"],) if isinstance(cfg["first_conv"], str) else cfg["first_conv"]
    for fc in first_conv:
        assert fc + ".weight" in state_dict, f"{fc} not in model params"


def _api_contract(family):
    with pytest.raises(TypeError):
        build_small(family, not_a_model_arg=1)


@pytest.mark.parametrize("family", STD_FAMILIES)
def test_model_default_cfgs(family):
    model, size = build_small(family)
    model.eval()
    _api_contract(family)
    cfg, state_dict = model.default_cfg, model.state_dict()
    assert model.num_classes > 0 and model.num_features > 0 and model.head_hidden_size > 0
    assert model.in_chans == cfg["input_size"][0]
    reduction = cfg["input_size"][-1] // cfg["pool_size"][-1]
    pool = (size[1] // reduction, size[2] // reduction)
    output_fmt = getattr(model, "output_fmt", "NCHW")
    spatial, feat_axis = get_spatial_dim(output_fmt), get_channel_dim(output_fmt)
    x = _input(size, 1)
    with torch.no_grad():
        feats = model.forward_features(x)
        pre = model.forward_head(feats, pre_logits=True)
        assert (feats.shape[spatial[0]], feats.shape[spatial[1]]) == pool
        assert feats.shape[feat_axis] == model.num_features
        assert pre.shape[1] == model.head_hidden_size
        model.reset_classifier(0)
        assert model.num_classes == 0
        out = model(x)
        assert out.shape == pre.shape
        model.reset_classifier(0, "")
        out = model(x)
        assert out.dim() == 4 and (out.shape[spatial[0]], out.shape[spatial[1]]) == pool
        headless, _ = build_small(family, num_classes=0)
        assert headless.eval()(x).shape == pre.shape
        unpooled, _ = build_small(family, num_classes=0, global_pool="")
        assert unpooled.eval()(x).dim() == 4
    _check_names(state_dict, cfg)


@pytest.mark.parametrize("family", NON_STD_FAMILIES)
def test_model_default_cfgs_non_std(family):
    model, size = build_small(family)
    model.eval()
    _api_contract(family)
    cfg, state_dict = model.default_cfg, model.state_dict()
    assert model.num_classes > 0 and model.num_features > 0 and model.head_hidden_size > 0
    x = _input(size, 1)
    with torch.no_grad():
        feats = model.forward_features(x)
        pre = model.forward_head(feats, pre_logits=True)
        assert feats.shape[-1 if feats.dim() == 3 else 1] == model.num_features
        assert pre.shape[1] == model.head_hidden_size
        model.reset_classifier(0)
        out = model(x)
        assert out.shape == pre.shape and out.shape[-1] == model.head_hidden_size
        headless, _ = build_small(family, num_classes=0)
        assert headless.eval()(x).shape[-1] == headless.num_features
    _check_names(state_dict, cfg)


@pytest.mark.parametrize("family", STD_FAMILIES)
def test_model_forward_features(family):
    model, size = build_small(family, features_only=True)
    model.eval()
    channels, reductions = model.feature_info.channels(), model.feature_info.reduction()
    assert len(channels) >= 3
    outputs = model(_input(size, 1))
    assert len(outputs) == len(channels)
    output_fmt = getattr(model, "output_fmt", "NCHW")
    spatial, feat_axis = get_spatial_dim(output_fmt), get_channel_dim(output_fmt)
    for c, r, o in zip(channels, reductions, outputs):
        assert o.shape[feat_axis] == c
        for axis, s in zip(spatial, size[1:]):
            assert s / (2 * r) < o.shape[axis] <= math.ceil(s / r) + 1
        assert not torch.isnan(o).any()


@pytest.mark.parametrize("family", FAMILIES)
def test_model_forward_intermediates(family):
    model, size = build_small(family)
    model.eval()
    info = timm.models.FeatureInfo(model.feature_info, len(model.feature_info))
    channels, reductions = info.channels(), info.reduction()
    x = _input(size, 1)
    with torch.no_grad():
        out, intermediates = model.forward_intermediates(x, output_fmt="NCHW")
        assert len(intermediates) == len(channels)
        for c, r, o in zip(channels, reductions, intermediates):
            assert o.shape[1] == c
            assert o.shape[2] <= math.ceil(size[1] / r) + 1 and o.shape[3] <= math.ceil(size[2] / r) + 1
            assert not torch.isnan(o).any()
        torch.testing.assert_close(out, model.forward_features(x), rtol=1e-5, atol=1e-8)
        model.set_grad_checkpointing()
        torch.testing.assert_close(model.forward_intermediates(x, output_fmt="NCHW")[0], out, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_model_forward_fx(family):
    model, size = build_small(family)
    model.eval()
    x = _input(size, 1)
    with torch.inference_mode():
        out = model(x)
        fx_out = torch.cat(tuple(_fx_model(model)(x).values()))
    torch.testing.assert_close(fx_out, out, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_model_backward_fx(family):
    model, size = build_small(family, num_classes=42)
    model.train()
    num_params = sum(p.numel() for p in model.parameters())
    fx = _fx_model(model, train=True)
    out = torch.cat(tuple(fx(_input(size)).values()))
    out.mean().backward()
    missing = [n for n, p in fx.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"
    assert sum(p.grad.numel() for p in fx.parameters()) == num_params
    assert out.shape[-1] == 42 and not torch.isnan(out).any()


@pytest.mark.parametrize("family", FAMILIES)
def test_torchscript_exclusions_are_exact(family):
    """Families in EXCLUDE_JIT fail to script; every other family scripts and runs."""
    with timm.set_scriptable(True):
        model, size = build_small(family)
    model.eval()
    if family in EXCLUDE_JIT:
        with pytest.raises((RuntimeError, torch.jit.frontend.FrontendError)):
            torch.jit.script(model)
        return
    scripted = torch.jit.script(model)
    out = scripted(_input(size, 1))
    assert out.shape[0] == 1 and not torch.isnan(out).any()
