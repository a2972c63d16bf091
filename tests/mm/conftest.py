"""Session fixtures: the tiny COCO / ADE20K / ImageNet folders are generated once per test session."""
from pathlib import Path

import pytest

pytest.importorskip("mmdet")
pytest.importorskip("mmseg")

from .mm_helpers import make_ade, make_coco, make_imagenet  # noqa: E402


@pytest.fixture(scope="session")
def coco_root(tmp_path_factory) -> Path:
    return make_coco(tmp_path_factory.mktemp("coco"))


@pytest.fixture(scope="session")
def ade_root(tmp_path_factory) -> Path:
    return make_ade(tmp_path_factory.mktemp("ade"))


@pytest.fixture(scope="session")
def imagenet_root(tmp_path_factory) -> Path:
    return make_imagenet(tmp_path_factory.mktemp("imagenet"))
