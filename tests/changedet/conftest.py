"""Session fixtures: generated bi-temporal datasets in the real on-disk layouts (written once per session)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cd_synthetic  # noqa: E402


@pytest.fixture(scope="session")
def levir_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("levir")
    info = cd_synthetic.write_binary_dataset(root, n=6, split="train", seed=0)
    cd_synthetic.write_binary_dataset(root, n=2, split="test", seed=10)
    return info


@pytest.fixture(scope="session")
def second_root(tmp_path_factory):
    return cd_synthetic.write_second_dataset(tmp_path_factory.mktemp("second"), n=4)


@pytest.fixture(scope="session")
def xbd_root(tmp_path_factory):
    return cd_synthetic.write_xbd_dataset(tmp_path_factory.mktemp("xbd"), n=3)
