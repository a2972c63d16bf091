"""Every config in configs/ parses and builds its model (backbones shrunk with the family's SMALL_TEST_CONFIGS).

Unknown keyword arguments fail the build (the wrappers forward them to ``timm.create_model``), so a setting
that no module consumes cannot hide in a config. The backbone of each config also runs on a 64x64 image.
"""
import copy
import importlib
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.mm

from .mm_helpers import CONFIGS  # noqa: E402

pytest.importorskip("mmdet")
import visionssm.mm  # noqa: E402,F401

OWN_TASKS = ("classification", "detection", "segmentation")
ALL = sorted(p for task in OWN_TASKS for p in (CONFIGS / task).glob("*.py"))
_FULL_BUILT = set()  # (task, backbone type, family): the full detector/segmentor is built once per such key
_RAN = {}  # backbone config -> output (channels, strides): each distinct backbone runs once


def _small_kwargs(model_name: str) -> dict:
    from visionssm.cards import family_of  # the visionssm family module (EfficientViM's models are timm's own)
    module = importlib.import_module(f"visionssm.models.{family_of(model_name)}")
    kw = dict(module.SMALL_TEST_CONFIGS[model_name])
    kw.pop("test_input_size", None)
    return kw


def test_every_family_has_configs_for_every_task():
    names = {p.name for p in ALL}
    for prefix in ("vmamba", "vim", "efficient-vmamba", "msvmamba", "spatial-mamba", "vssd"):
        assert any(n.startswith(prefix) for n in names if n.endswith("_in1k.py")), prefix
        assert any(f"_{prefix}" in n for n in names if n.startswith("mask-rcnn")), prefix
        assert any(f"_{prefix}" in n for n in names if n.startswith("upernet")), prefix


def test_every_registered_variant_has_a_classification_config():
    from visionssm.models import registered_model_names
    cls_models = set()
    from mmengine.config import Config
    for p in (CONFIGS / "classification").glob("*.py"):
        cls_models.add(Config.fromfile(p, format_python_code=False).model.model_name)
    missing = sorted(set(registered_model_names()) - cls_models)
    assert not missing, f"variants without an ImageNet config: {missing}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_config_builds(path: Path):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    cfg = Config.fromfile(path, format_python_code=False)
    assert cfg.train_dataloader.dataset and cfg.test_evaluator and cfg.optim_wrapper.optimizer.lr > 0
    model_cfg = copy.deepcopy(cfg.model)
    scope = cfg.get("default_scope", "mmengine")
    init_default_scope(scope)
    registry = importlib.import_module(f"{scope}.registry").MODELS if scope != "mmengine" else None

    if path.parent.name == "classification":
        name = model_cfg.model_name
        model_cfg.update(_small_kwargs(name), num_classes=10)
        model_cfg.pop("init_cfg", None)
        from visionssm.mm import MODELS
        model = MODELS.build(model_cfg)
        with torch.no_grad():
            model.eval()
            assert model(torch.randn(1, 3, 64, 64), mode="tensor").shape == (1, 10)
        return

    bb = model_cfg.backbone
    assert bb.type.startswith("visionssm."), bb.type
    small = _small_kwargs(bb.model_name)
    if bb.type.endswith("SimplePyramid"):  # block indices of the full depth -> the shrunk depth
        full_depth = max(bb.out_indices) + 1
        bb.out_indices = tuple(round(i * (small["depth"] - 1) / (full_depth - 1)) for i in bb.out_indices)
    bb.update(small, pretrained=False)
    backbone = registry.build(copy.deepcopy(bb))
    ch = list(backbone.channels)
    key = repr(sorted(bb.items()))
    if key not in _RAN:
        with torch.no_grad():
            feats = backbone.eval()(torch.randn(1, 3, 64, 64))
        _RAN[key] = ([f.shape[1] for f in feats], [64 // f.shape[-1] for f in feats])
    strides = list(getattr(backbone, "strides", [4, 8, 16, 32]))  # EfficientViM: 16, 32, 64
    assert _RAN[key] == (ch, strides) and strides in ([4, 8, 16, 32], [16, 32, 64])
    if model_cfg.get("neck") is not None:  # detection, Semantic FPN: the neck takes the backbone's maps
        assert len(model_cfg.neck.in_channels) == len(ch)
        model_cfg.neck.in_channels = ch
    else:
        assert len(model_cfg.decode_head.in_channels) == len(ch)
        model_cfg.decode_head.in_channels = ch
        model_cfg.auxiliary_head.in_channels = ch[model_cfg.auxiliary_head.in_index]
    key = (path.parent.name, bb.type, bb.model_name.split("_")[0])
    if key in _FULL_BUILT:
        return
    _FULL_BUILT.add(key)
    model = registry.build(model_cfg)
    assert sum(p.numel() for p in model.parameters()) > 0
