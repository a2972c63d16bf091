"""``test_<family>`` variants, as timm's ``test_vit``: a few blocks, small widths, a 64×64 default input and no
weights, so tests and tools get a model of every family that builds and runs in milliseconds on a CPU. They are
registered with timm like any variant but left out of ``registered_model_names()`` (no card, no benchmark row)."""
from typing import Any, Dict

TEST_PREFIX = "test_"

# pretrained_cfg fields every test variant overrides (pool_size: the 2×2 final map of a /32 model at 64×64)
TEST_CFG: Dict[str, Any] = {
    "input_size": (3, 64, 64), "pool_size": (2, 2),
    "notes": ("tiny test variant (a few blocks, small widths): random weights, for tests and tools only",),
}


def is_test_variant(name: str) -> bool:
    return name.startswith(TEST_PREFIX)
