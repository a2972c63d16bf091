"""The strided/flip shortcuts of the raster-family scans must equal the generic index gather / merge."""
import pytest
import torch

from visionssm.scans import build_scan

NAMES = ["cross", "raster", "unidirectional", "bidirectional_2d"]


def _generic(name):
    strategy = build_scan(name)
    strategy.fast_scan = lambda x: None  # instance attributes shadow the shortcuts → index path
    strategy.fast_merge = lambda y, H, W: None
    return strategy


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("H,W", [(3, 5), (4, 4)])
def test_fast_scan_and_merge_match_index_path(name, H, W):
    torch.manual_seed(0)
    fast, slow = build_scan(name), _generic(name)
    x = torch.randn(2, 3, H, W)
    assert fast.fast_scan(x) is not None, "shortcut not taken"
    xs = fast.scan(x)
    assert torch.equal(xs, slow.scan(x))
    y = torch.randn_like(xs.contiguous())
    assert fast.fast_merge(y, H, W) is not None
    torch.testing.assert_close(fast.merge(y, H, W), slow.merge(y, H, W), atol=1e-6, rtol=1e-6)
    assert fast.merge(y, H, W).shape == (2, 3, H, W)


@pytest.mark.parametrize("name", NAMES)
def test_fast_path_gradients_match(name):
    torch.manual_seed(0)
    x = torch.randn(1, 2, 3, 4)
    w = torch.randn(1, build_scan(name).num_directions, 2, 12)
    grads = []
    for strategy in (build_scan(name), _generic(name)):
        xi = x.clone().requires_grad_(True)
        (strategy.merge(strategy.scan(xi) * w, 3, 4) ** 2).sum().backward()
        grads.append(xi.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_subclass_with_other_orders_falls_back_to_index_path():
    cls = type(build_scan("cross"))

    class Shifted(cls):
        def build_orders(self, H, W):
            return super().build_orders(H, W).roll(1, dims=1)

    s = Shifted()
    x = torch.randn(1, 2, 3, 4)
    assert s.fast_scan(x) is None and s.fast_merge(torch.randn(1, 4, 2, 12), 3, 4) is None
    assert torch.equal(s.scan(x)[:, 0, :, 1:], x.flatten(2)[:, :, :-1])
