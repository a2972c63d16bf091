"""Input builders and comparison helpers shared by the selective-scan tests."""
from typing import Dict, List, Optional

import torch

from visionssm.kernels import selective_scan

GRAD_NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def make_inputs(batch: int, dim: int, length: int, state: int, groups: Optional[int] = None, *, with_D: bool = True,
                with_z: bool = True, with_bias: bool = True, with_C: bool = True, dtype=torch.float32,
                non_contiguous: bool = False, seed: int = 0) -> Dict[str, Optional[torch.Tensor]]:
    """Random scan inputs; ``groups=None`` gives ungrouped (batch, N, L) B/C."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=1.0):
        return torch.randn(*shape, generator=g) * scale

    bc_shape = (batch, state, length) if groups is None else (batch, groups, state, length)
    if non_contiguous:  # channel-last storage and a strided slice, as produced by projections
        u = rnd(batch, length, dim).transpose(1, 2)
        delta = (rnd(batch, length, dim, scale=0.5)).transpose(1, 2)
        B = rnd(*bc_shape[:-1], 2 * length)[..., ::2]
        C = rnd(*bc_shape[:-1], 2 * length)[..., ::2]
    else:
        u, delta = rnd(batch, dim, length), rnd(batch, dim, length, scale=0.5)
        B, C = rnd(*bc_shape), rnd(*bc_shape)
    inputs = dict(
        u=u.to(dtype), delta=delta.to(dtype), A=-(torch.rand(dim, state, generator=g) + 0.5),
        B=B.to(dtype), C=C.to(dtype) if with_C else None,
        D=rnd(dim) if with_D else None, z=rnd(batch, dim, length).to(dtype) if with_z else None,
        delta_bias=rnd(dim, scale=0.5) if with_bias else None,
    )
    return inputs


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
