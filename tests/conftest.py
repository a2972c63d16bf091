"""Shared test fixtures. TRITON_INTERPRET must be set before triton is imported anywhere."""
import os

os.environ.setdefault("TRITON_INTERPRET", "1")

from pathlib import Path  # noqa: E402
from typing import Mapping, Optional, Tuple  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
REQUIRE_FIXTURES_ENV = "VISIONSSM_REQUIRE_FIXTURES"
FIXTURES_ORIGIN = ("outputs of the official implementations, kept in the project's shared/fixtures folder, which must "
                   "sit beside the checkout as ../shared/fixtures")


def missing_fixtures(what: str, path: Path = FIXTURES, env: Optional[Mapping[str, str]] = None
                     ) -> Tuple[Optional[str], str]:
    """``(None, "")`` when ``path`` exists, else ``("skip" | "fail", message)``.

    A clone without ``shared/`` can still run the suite (the parity tests skip and say why); CI sets
    ``VISIONSSM_REQUIRE_FIXTURES=1`` so that a missing folder fails instead of passing unnoticed.
    """
    if path.is_dir():
        return None, ""
    env = os.environ if env is None else env
    require = env.get(REQUIRE_FIXTURES_ENV, "").strip().lower() not in ("", "0", "false", "no")
    msg = f"{what}: needs the official fixtures at {path} ({FIXTURES_ORIGIN}); "
    msg += (f"{REQUIRE_FIXTURES_ENV} is set, so their absence fails" if require
            else f"skipped; set {REQUIRE_FIXTURES_ENV}=1 to make their absence a failure")
    return ("fail" if require else "skip"), msg


def _what_it_checks(item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None)
    first = doc.strip().splitlines()[0].strip() if doc and doc.strip() else item.name.replace("_", " ")
    return f"{item.nodeid} ({first})"


def pytest_runtest_setup(item):
    """Tests that use ``fixtures_dir`` (directly or through another fixture) skip or fail before any setup runs."""
    if "fixtures_dir" not in getattr(item, "fixturenames", ()):
        return
    action, msg = missing_fixtures(_what_it_checks(item))
    if action == "fail":
        pytest.fail(msg, pytrace=False)
    if action == "skip":
        pytest.skip(msg)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The official-output fixtures in ../shared/fixtures (absent: see :func:`missing_fixtures`)."""
    action, msg = missing_fixtures("fixtures_dir")
    if action is not None:
        pytest.fail(msg, pytrace=False)
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
