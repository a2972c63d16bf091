"""OpenMMLab integration (``pip install visionssm[mm]``): registries, backbones, classification, data, metrics.

``import visionssm.mm`` (done by ``tools/train.py`` / ``tools/test.py``, or ``custom_imports`` in a config)
1. provides ``mmcv._ext`` on top of torchvision when only ``mmcv-lite`` is installed (:mod:`.mmcv_ext_compat`;
   a real compiled mmcv is used untouched),
2. makes mmengine's checkpoint loaders pass ``weights_only=True`` and allow-lists the types its Runner
   checkpoints hold (:mod:`.checkpoint_compat`),
3. lets mmengine find ``mmdet::``/``mmseg::`` config bases without ``pkg_resources`` (:mod:`.package_compat`),
4. registers our modules in the ``visionssm`` registries (one child of every mmengine root, so the
   ``visionssm`` default scope resolves everything without warnings; the backbones also in mmdet's/mmseg's).

Checkpoints: :mod:`.loading` (build without backbone weights, strict / fine-tuning loads), :mod:`.runner`
(the Runner the tools use), :mod:`.config_check` (misspelt config keys and hook arguments, before training).
"""
try:
    import mmengine  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError("visionssm.mm needs the OpenMMLab stack: pip install 'visionssm[mm]'") from e

from .mmcv_ext_compat import install as _install_mmcv_ext

MMCV_EXT_COMPAT = _install_mmcv_ext()  # True when mmcv-lite is in use and our torchvision-backed ops serve mmcv._ext

from .checkpoint_compat import allow_mmengine_checkpoints, enforce_weights_only  # noqa: E402

allow_mmengine_checkpoints()
enforce_weights_only()

from .package_compat import install as _install_package_compat  # noqa: E402

_install_package_compat()

from .backbone import VisionSSMBackbone  # noqa: E402
from .classifier import ClsDataPreprocessor, TimmClassifier  # noqa: E402
from .datasets import ImageNetFolder  # noqa: E402
from .hooks import ClsVisualizationHook  # noqa: E402
from .loading import init_model_from_checkpoint, load_model_checkpoint, without_backbone_weights  # noqa: E402
from .metrics import TopKAccuracy  # noqa: E402
from .optim import TimmParamGroupsConstructor  # noqa: E402
from .registry import DATASETS, METRICS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS, TRANSFORMS, register_into_openmmlab  # noqa: E402
from .scene_folder import SceneFolder  # noqa: E402,F401  (RSMamba's remote-sensing datasets)
from .simple_pyramid import VisionSSMSimplePyramid  # noqa: E402
from .transforms import PackClsInputs, TimmClsTransform  # noqa: E402
from .transposed_fpn import TransposedFPN  # noqa: E402,F401  (EfficientViM's detection neck)

register_into_openmmlab(VisionSSMBackbone, VisionSSMSimplePyramid)

__all__ = ["ClsDataPreprocessor", "ClsVisualizationHook", "DATASETS", "init_model_from_checkpoint",
           "load_model_checkpoint", "without_backbone_weights", "ImageNetFolder", "METRICS", "MMCV_EXT_COMPAT", "MODELS",
           "OPTIM_WRAPPER_CONSTRUCTORS", "PackClsInputs", "TRANSFORMS", "TimmClassifier", "TimmClsTransform",
           "TimmParamGroupsConstructor", "TopKAccuracy", "VisionSSMBackbone", "VisionSSMSimplePyramid"]
