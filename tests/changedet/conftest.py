"""Session fixtures: generated bi-temporal datasets in the real on-disk layouts (written once per session)."""
import pytest

from . import cd_synthetic


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


@pytest.fixture(scope="session")
def levir_small(tmp_path_factory):
    """32×32 pairs (2 train, 2 test): the Runner test trains and evaluates on these."""
    root = tmp_path_factory.mktemp("levir_small")
    info = cd_synthetic.write_binary_dataset(root, n=2, size=32, split="train", seed=3)
    cd_synthetic.write_binary_dataset(root, n=2, size=32, split="test", seed=4)
    return info
