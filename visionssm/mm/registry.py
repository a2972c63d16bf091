"""visionssm's mmengine registries: one child of every mmengine root, scope ``visionssm``.

Configs name our modules ``type='visionssm.VisionSSMBackbone'`` from any scope (mmdet, mmseg, ...), or set
``default_scope = 'visionssm'`` (classification). Under that default scope mmengine looks every component up in
the ``visionssm`` child first (loops, samplers, optimizers, schedulers, visualizers ...) and warns when the child
does not exist, so every root has one here, as mmpretrain and mmdet do; lookups of mmengine's own components fall
through to the root. ``locations`` makes the registries import ``visionssm.mm`` lazily the first time they are
queried, so no edit of a training script is needed.
"""
from mmengine import registry as _root
from mmengine.registry import Registry

_LOC = ["visionssm.mm"]


def _child(root: Registry) -> Registry:
    return Registry(root.name, parent=root, scope="visionssm", locations=_LOC)


RUNNERS = _child(_root.RUNNERS)
RUNNER_CONSTRUCTORS = _child(_root.RUNNER_CONSTRUCTORS)
LOOPS = _child(_root.LOOPS)
HOOKS = _child(_root.HOOKS)
STRATEGIES = _child(_root.STRATEGIES)
DATASETS = _child(_root.DATASETS)
DATA_SAMPLERS = _child(_root.DATA_SAMPLERS)
TRANSFORMS = _child(_root.TRANSFORMS)
MODELS = _child(_root.MODELS)
MODEL_WRAPPERS = _child(_root.MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _child(_root.WEIGHT_INITIALIZERS)
OPTIMIZERS = _child(_root.OPTIMIZERS)
OPTIM_WRAPPERS = _child(_root.OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _child(_root.OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _child(_root.PARAM_SCHEDULERS)
METRICS = _child(_root.METRICS)
EVALUATOR = _child(_root.EVALUATOR)
TASK_UTILS = _child(_root.TASK_UTILS)
VISUALIZERS = _child(_root.VISUALIZERS)
VISBACKENDS = _child(_root.VISBACKENDS)
LOG_PROCESSORS = _child(_root.LOG_PROCESSORS)
INFERENCERS = _child(_root.INFERENCERS)
FUNCTIONS = _child(_root.FUNCTIONS)

__all__ = ["DATASETS", "DATA_SAMPLERS", "EVALUATOR", "FUNCTIONS", "HOOKS", "INFERENCERS", "LOG_PROCESSORS", "LOOPS",
           "METRICS", "MODELS", "MODEL_WRAPPERS", "OPTIMIZERS", "OPTIM_WRAPPERS", "OPTIM_WRAPPER_CONSTRUCTORS",
           "PARAM_SCHEDULERS", "RUNNERS", "RUNNER_CONSTRUCTORS", "STRATEGIES", "TASK_UTILS", "TRANSFORMS",
           "VISBACKENDS", "VISUALIZERS", "WEIGHT_INITIALIZERS", "register_into_openmmlab"]


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
