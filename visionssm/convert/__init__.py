"""Official checkpoint formats → visionssm models (official names live only in this package).

One module per official code base (``vmamba``, ``vim``, ``efficient_vmamba``, ``msvmamba``, ``spatial_mamba``,
``vssd``): its key map, its constructor-kwargs map, and a ``register_family`` call that makes it available to
``from_official``. A model file's ``checkpoint_filter_fn`` calls its family's key map.
"""
from .common import (
    CheckpointError,
    allow_official_config_containers,
    check_weight_values,
    load_checkpoint_file,
    load_state_dict_strict,
    unwrap_state_dict,
)
from .registry import FamilyConverter, from_official, list_families, register_family

__all__ = ["CheckpointError", "FamilyConverter", "allow_official_config_containers", "check_weight_values", "from_official",
           "list_families", "load_checkpoint_file", "load_state_dict_strict", "register_family", "unwrap_state_dict"]
