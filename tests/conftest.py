"""Shared test fixtures. TRITON_INTERPRET must be set before triton is imported anywhere."""
import os

os.environ.setdefault("TRITON_INTERPRET", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The official-output fixtures in ../shared/fixtures (CI has shared/ beside the checkout)."""
    if not FIXTURES.is_dir():
        raise FileNotFoundError(f"official fixtures not found at {FIXTURES}: clone with shared/ beside the checkout")
    return FIXTURES


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
