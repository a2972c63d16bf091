"""The documented install (README: `pip install -e ".[mm,medical,dev]"`) provides every optional stack.

Task test modules use ``importorskip`` so that a backbone-only install can still run its tests; this test makes
sure that, in the documented environment (and so in CI), none of those modules was silently skipped.
"""
import importlib

import pytest


@pytest.mark.parametrize("module", ["mmengine", "mmcv", "mmdet", "mmseg", "pycocotools", "nibabel", "h5py", "scipy",
                                    "sklearn", "triton", "safetensors", "albumentations", "cv2", "onnx",
                                    "onnxruntime", "onnxscript"])
def test_documented_extras_are_installed(module):
    importlib.import_module(module)


def test_mm_stack_imports_with_compiled_op_stand_ins():
    importlib.import_module("visionssm.mm")  # first: installs the mmcv._ext stand-in when mmcv-lite is used
    importlib.import_module("mmdet.models")
    importlib.import_module("mmseg.models")
