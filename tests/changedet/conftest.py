"""Session fixtures: generated bi-temporal datasets in the real on-disk layouts (written once per session)."""
import cd_synthetic  # tests/changedet is on sys.path (pytest's default "prepend" import mode)
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a loaded 2-core machine OpenMP spin-waiting made a
    training step ~50x slower (0.06 s CPU with 1 thread vs 3.0 s with 2). Restored after each test."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


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
