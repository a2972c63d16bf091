"""Load trained change-detection models for inference: from an mmengine config + checkpoint, or a bare state dict.

Checkpoints are read safely (``weights_only=True`` / safetensors). An mmengine Runner checkpoint
(``{'meta', 'state_dict': {'model.encoder...'}}``) and a plain ``model.state_dict()`` are both accepted.
"""
from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch

from .models import build_change_model


def _read_state_dict(path: Union[str, Path]) -> Dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    return obj


def load_change_checkpoint(model: torch.nn.Module, checkpoint: Union[str, Path]) -> torch.nn.Module:
    """Load weights into a MambaBCD/SCD/BDA; strips the ``model.`` prefix of :class:`ChangeDetector` checkpoints.

    Strict: a missing or unexpected key raises, naming the first few (wrong architecture or size in the config).
    """
    sd = _read_state_dict(checkpoint)
    if any(k.startswith("model.") for k in sd):
        sd = {k[len("model."):]: v for k, v in sd.items() if k.startswith("model.")}
    result = model.load_state_dict(sd, strict=False)
    if result.missing_keys or result.unexpected_keys:
        from visionssm.convert import CheckpointError

        raise CheckpointError(f"checkpoint {checkpoint} does not fit {type(model).__name__}: "
                           f"{len(result.missing_keys)} missing (e.g. {result.missing_keys[:3]}), "
                           f"{len(result.unexpected_keys)} unexpected (e.g. {result.unexpected_keys[:3]}); "
                           f"build the model with the config it was trained with")
    return model


def model_from_config(config: Union[str, Path, Dict[str, Any]], checkpoint: Optional[Union[str, Path]] = None):
    """Build the plain-PyTorch model a ``configs/change_detection`` config describes (no ImageNet download:
    ``init_cfg`` is ignored) and load ``checkpoint`` into it. ``config`` may be a path (needs mmengine) or the
    ``model`` dict itself."""
    if isinstance(config, (str, Path)):
        from mmengine.config import Config

        model_cfg = dict(Config.fromfile(str(config)).model)
    else:
        model_cfg = dict(config.get("model", config))
    for key in ("type", "init_cfg", "data_preprocessor"):
        model_cfg.pop(key, None)
    arch = model_cfg.pop("arch", "mamba_bcd")
    model = build_change_model(arch, **model_cfg)
    if checkpoint is not None:
        load_change_checkpoint(model, checkpoint)
    return model.eval()
