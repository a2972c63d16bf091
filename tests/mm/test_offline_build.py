"""Every config under configs/ builds offline when a full checkpoint is given, and loads it strictly.

The configs ask for released ImageNet weights (``pretrained=True``, ``init_cfg=dict(type='Pretrained')``,
``pretrained='<path>'``); a full-model checkpoint replaces them, so building for evaluation or inference must not
download anything (``msvmamba_micro`` has no released weights at all). The network is switched off here:
any download attempt fails the test. Backbones are shrunk to the family's ``SMALL_TEST_CONFIGS`` where the
config uses :class:`VisionSSMBackbone` / ``TimmClassifier``; change-detection and medical models build at full
size (deduplicated by model config).
"""
import copy
import importlib
import socket
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.mm

from .mm_helpers import CONFIGS, tiny_seg_body, write_config  # noqa: E402

pytest.importorskip("mmdet")
import visionssm.mm  # noqa: E402,F401  (mmdet::/mmseg:: config bases without pkg_resources)

TASKS = ("classification", "detection", "segmentation", "change_detection", "medical", "quickstart")
ALL = sorted(p for t in TASKS for p in (CONFIGS / t).glob("*.py"))
_DONE: dict = {}  # model config repr -> True: identical models are built once


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access while building from a checkpoint: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _small(model_name: str) -> dict:
    import timm

    import visionssm.models

    modules = [importlib.import_module(timm.models.model_entrypoint(model_name).__module__)]
    modules += [importlib.import_module(f"visionssm.models.{f}") for f in visionssm.models.FAMILIES]
    # a family built on timm's own model (EfficientViM) keeps its small configs in its visionssm module
    module = next(m for m in modules if model_name in getattr(m, "SMALL_TEST_CONFIGS", {}))
    kw = dict(module.SMALL_TEST_CONFIGS[model_name])
    kw.pop("test_input_size", None)
    return kw


def _shrink(model_cfg) -> None:
    """Shrink timm models in place (weight settings untouched: the builder must turn them off itself)."""
    if str(model_cfg.get("type", "")).endswith("TimmClassifier"):
        model_cfg.update(_small(model_cfg.model_name))
        return
    bb = model_cfg.get("backbone")
    if not isinstance(bb, dict) or not str(bb.get("type", "")).startswith("visionssm.") or "model_name" not in bb:
        return
    small = _small(bb["model_name"])
    if str(bb["type"]).endswith("SimplePyramid"):
        full_depth = max(bb["out_indices"]) + 1
        bb["out_indices"] = tuple(round(i * (small["depth"] - 1) / (full_depth - 1)) for i in bb["out_indices"])
    bb.update(small)
    import timm

    with torch.device("meta"):
        probe = timm.create_model(bb["model_name"], features_only=True, feature_cls="getter",
                                  out_indices=tuple(bb.get("out_indices", (0, 1, 2, 3))), **small)
    ch = probe.feature_info.channels()
    if "neck" in model_cfg:
        model_cfg.neck.in_channels = ch
    if "decode_head" in model_cfg and "neck" not in model_cfg:  # a neck (Semantic FPN) keeps the head's inputs
        model_cfg.decode_head.in_channels = ch
        if model_cfg.get("auxiliary_head"):
            model_cfg.auxiliary_head.in_channels = ch[model_cfg.auxiliary_head.in_index]


def _build_and_load(cfg, tmp_path: Path):
    from mmengine.registry import MODELS, DefaultScope, init_default_scope

    from visionssm.mm.loading import init_model_from_checkpoint, without_backbone_weights

    scope = cfg.get("default_scope") or "mmengine"
    init_default_scope(scope)
    with DefaultScope.overwrite_default_scope(scope):
        source = MODELS.build(without_backbone_weights(copy.deepcopy(cfg.model)))
    ckpt = tmp_path / "full.pth"
    torch.save({"state_dict": source.state_dict(), "meta": {"dataset_meta": {"classes": ("a", "b")}}}, ckpt)
    model = init_model_from_checkpoint(cfg, str(ckpt), scope=scope)
    name, value = next(iter(source.state_dict().items()))
    torch.testing.assert_close(model.state_dict()[name], value)
    assert model.dataset_meta["classes"] == ("a", "b") and not model.training
    return model


@pytest.mark.slow
@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_config_builds_offline_from_checkpoint(path: Path, tmp_path, offline):
    from mmengine.config import Config


    cfg = Config.fromfile(path)
    _shrink(cfg.model)
    key = repr(cfg.model)
    if key not in _DONE:  # a model identical to one already built and loaded (same config, other dataset)
        _build_and_load(cfg, tmp_path)
    _DONE[key] = path.name


def test_segmenter_from_config_without_released_weights(tmp_path, offline):
    """``visionssm infer`` for UperNet + msvmamba_micro (no released ImageNet weights) with a full checkpoint."""
    from visionssm.infer.segment import Segmenter

    small = _small("msvmamba_micro")
    cfg_path = write_config(tmp_path / "seg.py", CONFIGS / "segmentation" /
                            "upernet_msvmamba-micro_4xb4-160k_ade20k-512x512.py",
                            f"model = dict(backbone=dict(**{small!r}), decode_head=dict(channels=32), "
                            "auxiliary_head=dict(channels=16))\n")
    from mmengine.config import Config

    cfg = Config.fromfile(cfg_path)
    assert cfg.model.backbone.pretrained is True  # the config still asks for ImageNet weights
    _shrink(cfg.model)
    cfg.dump(str(cfg_path))
    source = _build_and_load(Config.fromfile(cfg_path), tmp_path)
    seg = Segmenter.from_config(cfg_path, str(tmp_path / "full.pth"), device="cpu")
    for (name, a), b in zip(source.state_dict().items(), seg.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    assert seg.class_names == ["a", "b"] and seg.pipeline is not None


def test_segmenter_refuses_mismatched_checkpoint(tmp_path, offline):
    from visionssm.infer.segment import Segmenter
    from visionssm.mm.loading import CheckpointMismatchError

    small = _small("msvmamba_micro")
    cfg_path = write_config(tmp_path / "seg.py", CONFIGS / "segmentation" /
                            "upernet_msvmamba-micro_4xb4-160k_ade20k-512x512.py",
                            f"model = dict(backbone=dict(**{small!r}))\n")
    torch.save({"state_dict": {"backbone.body.model.stem.weight": torch.zeros(1)}}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointMismatchError, match="missing keys"):
        Segmenter.from_config(cfg_path, str(tmp_path / "bad.pth"), device="cpu")


def test_training_config_without_downloadable_weights_says_what_to_do(offline):
    """Training (no full checkpoint) with ``pretrained=True`` for a Google-Drive-only release names the fix."""
    from visionssm.mm import VisionSSMBackbone

    with pytest.raises(ValueError, match=r"no direct download \(released at https://drive.google.com.*init_cfg"):
        VisionSSMBackbone(model_name="msvmamba_micro", pretrained=True, **_small("msvmamba_micro"))


def test_test_tool_evaluates_offline_with_pretrained_config(ade_root, tmp_path, offline):
    """``tools/test.py`` on a config that keeps ``pretrained=True``: built without downloading, loaded strictly."""
    from mmengine.config import Config

    from visionssm.cli.test import main

    body = tiny_seg_body(ade_root, tmp_path / "work").replace("'pretrained': False, ", "")
    cfg_path = write_config(tmp_path / "seg.py", CONFIGS / "segmentation" /
                            "upernet_vmamba-tiny-s1l8_4xb4-160k_ade20k-512x512.py", body)
    assert Config.fromfile(cfg_path).model.backbone.pretrained is True
    _build_and_load(Config.fromfile(cfg_path), tmp_path)
    metrics = main([str(cfg_path), str(tmp_path / "full.pth"), "--work-dir", str(tmp_path / "t")])
    assert 0.0 <= float(metrics["mIoU"]) <= 100.0
