"""visionssm's mmengine registries: children of mmengine's roots, scope ``visionssm``.

Configs name our modules ``type='visionssm.VisionSSMBackbone'`` from any scope (mmdet, mmseg, ...), or set
``default_scope = 'visionssm'`` (classification). ``locations`` makes the registries import ``visionssm.mm``
lazily the first time they are queried, so no edit of a training script is needed.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

_LOC = ["visionssm.mm"]

MODELS = Registry("model", parent=MMENGINE_MODELS, scope="visionssm", locations=_LOC)
DATASETS = Registry("dataset", parent=MMENGINE_DATASETS, scope="visionssm", locations=_LOC)
TRANSFORMS = Registry("transform", parent=MMENGINE_TRANSFORMS, scope="visionssm", locations=_LOC)
METRICS = Registry("metric", parent=MMENGINE_METRICS, scope="visionssm", locations=_LOC)
HOOKS = Registry("hook", parent=MMENGINE_HOOKS, scope="visionssm", locations=_LOC)
OPTIM_WRAPPER_CONSTRUCTORS = Registry("optimizer wrapper constructor", parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      scope="visionssm", locations=_LOC)

__all__ = ["DATASETS", "HOOKS", "METRICS", "MODELS", "OPTIM_WRAPPER_CONSTRUCTORS", "TRANSFORMS"]


def register_into_openmmlab(*classes) -> None:
    """Also register backbones in mmdet's and mmseg's MODELS (when installed) so ``type='VisionSSMBackbone'``
    works unprefixed under their default scopes, like the official MM_VSSM wrappers."""
    import importlib
    for pkg in ("mmdet", "mmseg"):
        try:
            reg = importlib.import_module(f"{pkg}.registry").MODELS
        except ImportError:
            continue
        for cls in classes:
            if cls.__name__ not in reg.module_dict:
                reg.register_module(module=cls)
