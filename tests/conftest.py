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
def _seed_and_one_thread():
    """Seed every test; run it on one intra-op thread.

    Test tensors are tiny, so threads gain nothing, and on a loaded 2-core machine OpenMP spin-waiting made a
    training step ~50x slower (0.06 s CPU with 1 thread vs 3.0 s with 2). Parallelism comes from running
    test files in two processes instead (pytest -n 2).
    """
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
