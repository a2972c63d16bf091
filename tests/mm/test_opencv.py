"""``opencv-python`` (required by mmengine / mmcv-lite) and our ``opencv-python-headless`` share the ``cv2`` package.

Both wheels write the same files; that is harmless only while they are the same version (otherwise ``cv2`` mixes
files of two builds). This checks the installed environment: one ``cv2``, importable, of the installed version.
"""
import importlib.metadata as md

import pytest

pytestmark = pytest.mark.mm


def _version(dist: str):
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def test_opencv_wheels_agree():
    import cv2

    versions = {d: _version(d) for d in ("opencv-python", "opencv-python-headless")}
    installed = {d: v for d, v in versions.items() if v}
    assert installed, "no OpenCV wheel installed: pip install opencv-python-headless"
    assert len(set(installed.values())) == 1, (
        f"OpenCV wheels of different versions share cv2/: {installed}; align them with "
        f"pip install --force-reinstall opencv-python-headless=={installed.get('opencv-python')}")
    assert cv2.__version__.split("-")[0] == next(iter(installed.values())).rsplit(".", 1)[0], cv2.__version__
    assert cv2.imdecode is not None and cv2.resize is not None
