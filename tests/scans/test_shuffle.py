"""The 'shuffle' strategy (RSMamba): raster, reversed and shuffled orders; fixed at eval, fresh when training."""
import pytest
import torch

from visionssm.scans import build_scan, list_scans
from visionssm.scans.shuffle import ShuffleScan


def test_registered_with_three_orders():
    assert "shuffle" in list_scans()
    s = build_scan("shuffle", seed=3).eval()
    assert isinstance(s, ShuffleScan) and s.num_directions == 3
    orders = s.orders(4, 5)
    assert orders.shape == (3, 20)
    assert torch.equal(orders[0], torch.arange(20)) and torch.equal(orders[1], torch.arange(19, -1, -1))
    assert torch.equal(orders[2].sort().values, torch.arange(20)) and not torch.equal(orders[2], orders[0])


def test_eval_permutation_is_fixed_by_the_seed():
    a, b, c = (build_scan("shuffle", seed=s).eval() for s in (7, 7, 8))
    assert torch.equal(a.orders(6, 6), a.orders(6, 6)) and torch.equal(a.orders(6, 6), b.orders(6, 6))
    assert not torch.equal(a.orders(6, 6)[2], c.orders(6, 6)[2])
    expected = torch.randperm(36, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.orders(6, 6)[2], expected)


def test_training_and_official_eval_draw_fresh_permutations():
    s = build_scan("shuffle").train()
    draws = {tuple(s.orders(5, 5)[2].tolist()) for _ in range(4)}
    assert len(draws) > 1
    s.eval()
    assert len({tuple(s.orders(5, 5)[2].tolist()) for _ in range(3)}) == 1
    s.random_in_eval = True  # the official code: torch.randperm on the global generator, at eval too
    torch.manual_seed(100)
    got = s.orders(5, 5)[2]
    torch.manual_seed(100)
    assert torch.equal(got, torch.randperm(25))


def test_set_permutation_and_its_check():
    s = build_scan("shuffle").eval()
    perm = torch.tensor([2, 0, 3, 1])
    s.orders(2, 2)  # cached before: set_permutation must replace it
    s.set_permutation(perm)
    assert torch.equal(s.orders(2, 2)[2], perm)
    with pytest.raises(ValueError, match="permutation of 0..3"):
        s.set_permutation(torch.tensor([0, 0, 1, 2]))


@pytest.mark.parametrize("training", [False, True])
def test_scan_merge_round_trip(training):
    s = build_scan("shuffle").train(training)
    x = torch.randn(2, 3, 4, 6)
    seqs = None

    def ssm(xs):  # records what each direction saw, returns it unchanged
        nonlocal seqs
        seqs = xs
        return xs

    torch.testing.assert_close(s(x, ssm), x)
    flat = x.flatten(2)
    torch.testing.assert_close(seqs[:, 0], flat)
    torch.testing.assert_close(seqs[:, 1], flat.flip(-1))
    if training:
        with pytest.raises(ValueError, match="needs the orders scan used"):
            s.merge(seqs, 4, 6)
