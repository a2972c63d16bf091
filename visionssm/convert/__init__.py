"""Official checkpoint formats → visionssm models (official names live only in this package)."""
from .common import allow_official_config_containers, load_checkpoint_file, load_state_dict_strict, unwrap_state_dict
from .registry import from_official, list_families, register_family

__all__ = ["allow_official_config_containers", "from_official", "list_families", "load_checkpoint_file", "load_state_dict_strict", "register_family",
           "unwrap_state_dict"]
