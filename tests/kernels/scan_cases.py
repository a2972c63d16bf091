"""Comparison helpers shared by the selective-scan tests; inputs come from ``visionssm.kernels.bench.make_inputs``."""
from typing import Dict, List, Optional

import torch

from visionssm.kernels import selective_scan
from visionssm.kernels.bench import make_inputs  # noqa: F401  (the one input builder: tests, bench, tune)

GRAD_NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def run(inputs: Dict[str, Optional[torch.Tensor]], backend: str, *, delta_softplus: bool = True,
        out_dtype=None, grads: bool = True, weight_seed: int = 1) -> Dict[str, torch.Tensor]:
    """Run one backend; return out, last_state and the gradients of a weighted sum of both."""
    leaves = {k: (v.detach().clone().requires_grad_(grads) if v is not None else None) for k, v in inputs.items()}
    out, last = selective_scan(leaves["u"], leaves["delta"], leaves["A"], leaves["B"], leaves["C"], leaves["D"],
                               leaves["z"], leaves["delta_bias"], delta_softplus, True, out_dtype=out_dtype,
                               backend=backend)
    res = {"out": out.detach(), "last_state": last.detach()}
    if grads:
        g = torch.Generator().manual_seed(weight_seed)
        w_out = torch.randn(out.shape, generator=g)
        w_last = torch.randn(last.shape, generator=g)
        ((out.float() * w_out).sum() + (last * w_last).sum()).backward()
        for name in GRAD_NAMES:
            if leaves[name] is not None and leaves[name].grad is not None:
                res["grad_" + name] = leaves[name].grad
    return res


def assert_match(got: Dict[str, torch.Tensor], want: Dict[str, torch.Tensor], *, rtol=2e-4, atol=2e-4,
                 grad_rtol=1e-3, grad_atol=1e-3, keys: Optional[List[str]] = None):
    assert set(got) == set(want), f"different outputs/gradients: {sorted(got)} vs {sorted(want)}"
    for key in keys or sorted(want):
        a, b = got[key], want[key]
        assert a.dtype == b.dtype, f"{key}: dtype {a.dtype} != {b.dtype}"
        tol = dict(rtol=grad_rtol, atol=grad_atol) if key.startswith("grad_") else dict(rtol=rtol, atol=atol)
        torch.testing.assert_close(a.float(), b.float(), **tol, msg=lambda m, k=key: f"{k}: {m}")


FIXTURE_ARGS = GRAD_NAMES  # the official fixtures' inputs, in selective_scan's argument order


def check_official_fixture(path, backend: str):
    """Reproduce one official mamba reference case (``selective_scan_ref/case_*.pt``): out, last state and the
    gradients of out.sum()."""
    data = torch.load(path, weights_only=True)
    inputs = {k: (v.clone().requires_grad_() if v is not None else None) for k, v in data["inputs"].items()}
    out, last = selective_scan(*[inputs[k] for k in FIXTURE_ARGS], delta_softplus=data["delta_softplus"],
                               return_last_state=True, backend=backend)
    torch.testing.assert_close(out, data["out"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(last, data["last_state"], rtol=1e-4, atol=1e-4)
    if "grads_of_out_sum" in data:
        out.sum().backward()
        for name, want in data["grads_of_out_sum"].items():
            if want is not None:
                torch.testing.assert_close(inputs[name].grad, want, rtol=1e-3, atol=1e-3,
                                           msg=lambda m, n=name: f"{n}: {m}")
