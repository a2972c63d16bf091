"""Fixture loading and parity checks the family tests share: the official model rebuilt from a family's shared
fixture (config.json, checkpoint.pth, input / logits / features tensors), and the size checks run on it."""
import json
from pathlib import Path
from typing import Tuple

import pytest
import timm
import torch

from visionssm.convert import from_official


def load_fixture(fixtures_dir: Path, family_dir: str) -> dict:
    """``dir``, ``cfg`` (config.json) and the ``input`` / ``logits`` / ``features`` tensors of one family."""
    d = fixtures_dir / family_dir
    load = lambda name: torch.load(d / name, weights_only=True)  # noqa: E731
    return {"dir": d, "cfg": json.loads((d / "config.json").read_text()), "input": load("input.pt"),
            "logits": load("logits.pt"), "features": load("features.pt")}


def official_from_fixture(fx: dict) -> torch.nn.Module:
    """Our model built from the official kwargs and checkpoint, in eval mode."""
    cfg = fx["cfg"]
    return from_official(cfg["family"], cfg["official_kwargs"], str(fx["dir"] / "checkpoint.pth")).eval()


def family_fixtures(family_dir: str):
    """Module-scoped pytest fixtures ``fixture`` (load_fixture's dict) and ``official_model``; a test module
    binds them with ``fixture, official_model = family_fixtures("<dir>")``."""

    @pytest.fixture(scope="module")
    def fixture(fixtures_dir):
        return load_fixture(fixtures_dir, family_dir)

    @pytest.fixture(scope="module")
    def official_model(fixture):
        return official_from_fixture(fixture)

    return fixture, official_model


def official_fixture(family_dir: str):
    """Module-scoped pytest fixture ``official``: (cfg, official model, input, logits, features, fixture dir)."""

    @pytest.fixture(scope="module")
    def official(fixtures_dir):
        fx = load_fixture(fixtures_dir, family_dir)
        return fx["cfg"], official_from_fixture(fx), fx["input"], fx["logits"], fx["features"], fx["dir"]

    return official


def assert_logits_and_stage_features(model: torch.nn.Module, fx: dict, atol: float = 1e-4, rtol: float = 1e-4):
    """Parameter count as the official model's, logits and the 4 stage maps of forward_intermediates as recorded."""
    assert sum(p.numel() for p in model.parameters()) == fx["cfg"]["num_params"]
    with torch.no_grad():
        logits = model(fx["input"])
        final, feats = model.forward_intermediates(fx["input"])
    torch.testing.assert_close(logits, fx["logits"], atol=atol, rtol=rtol)
    assert len(feats) == len(fx["features"]) == 4
    for ours, ref in zip(feats, fx["features"]):
        torch.testing.assert_close(ours, ref, atol=atol, rtol=rtol)


def pretrained_from_file(name: str, fixture_dir: Path, file_num_classes: int, **kwargs) -> torch.nn.Module:
    """timm.create_model(pretrained=True, **kwargs) with the official .pth (a ``file_num_classes`` head) as the
    pretrained file, so its keys go through the family's checkpoint_filter_fn."""
    overlay = {"file": str(fixture_dir / "checkpoint.pth"), "num_classes": file_num_classes}
    return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs).eval()


def assert_stage_sizes_follow_padding(model: torch.nn.Module, size: Tuple[int, int], num_classes: int):
    """A hierarchical model on an odd / non-square input: finite logits, stage 1 at H/4 (4x4 stride-4 stem),
    each later stage at ceil(H/2) (patch merging pads odd sides)."""
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        out = model(x)
        feats = model.forward_intermediates(x, intermediates_only=True)
    assert out.shape == (1, num_classes) and torch.isfinite(out).all()
    h, w = size[0] // 4, size[1] // 4
    for i, f in enumerate(feats):
        assert f.shape[-2:] == (h, w), (i, tuple(f.shape))
        h, w = -(-h // 2), -(-w // 2)


def full_size_millions(name: str) -> float:
    """Parameter count of a registered variant at full size, in millions (built on the meta device)."""
    with torch.device("meta"):
        model = timm.create_model(name)
    return sum(p.numel() for p in model.parameters()) / 1e6
