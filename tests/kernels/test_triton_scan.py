"""The Triton kernels (forward and backward) against the reference, on CPU under TRITON_INTERPRET=1.

Sizes stay near 10^4 scanned elements per case: the interpreter runs tl.associative_scan element by
element. Under the interpreter the kernel uses 8-token and ≤4-channel tiles, so these small cases still
cross several token tiles (carries, checkpoints, reversed adjoint) and channel tiles (group handling).
"""
import os

import pytest
import torch

from visionssm.kernels import available_backends

from .scan_cases import GRAD_NAMES, assert_match, check_official_fixture, make_inputs, run

pytestmark = pytest.mark.interpret

if os.environ.get("TRITON_INTERPRET") != "1" or "triton" not in available_backends(torch.device("cpu")):
    pytest.fail("tests/conftest.py must set TRITON_INTERPRET=1 before triton is imported, and triton must be "
                "installed", pytrace=False)


PLAIN = dict(with_D=False, with_z=False, with_bias=False)


@pytest.mark.parametrize("batch,state,groups,length,opts", [
    (2, 1, None, 21, {}), (2, 1, 2, 21, PLAIN), (2, 1, 2, 21, {}), (1, 16, None, 11, {}), (1, 16, 2, 9, PLAIN),
], ids=["N1-DzBias", "N1-grouped-plain", "N1-grouped-DzBias", "N16-DzBias", "N16-grouped-plain"])
def test_triton_matches_ref(batch, state, groups, length, opts):
    inputs = make_inputs(batch, 8, length, state, groups, **opts)
    want = run(inputs, "ref")
    got = run(inputs, "triton")
    assert set(want) == {"out", "last_state"} | {"grad_" + k for k in GRAD_NAMES if inputs[k] is not None}
    assert_match(got, want)


def test_triton_no_softplus_odd_groups():
    """Δ without softplus; groups of 3 channels (tiles of a non-power-of-two group are masked)."""
    inputs = make_inputs(1, 6, 13, 2, 2)
    inputs["delta"] = inputs["delta"].abs() + 0.05
    assert_match(run(inputs, "triton", delta_softplus=False), run(inputs, "ref", delta_softplus=False))


@pytest.mark.parametrize("length", [1, 8, 9])
def test_triton_lengths(length):
    inputs = make_inputs(1, 4, length, 2, 2)
    assert_match(run(inputs, "triton"), run(inputs, "ref"))


def test_triton_non_contiguous_mixed_groups():
    inputs = make_inputs(1, 12, 10, 2, 2, non_contiguous=True)
    inputs["C"] = torch.randn(1, 3, 2, 20)[..., ::2]
    assert_match(run(inputs, "triton"), run(inputs, "ref"))


@pytest.mark.parametrize("dtype,out_dtype", [(torch.float16, None), (torch.bfloat16, torch.float32)])
def test_triton_half_inputs(dtype, out_dtype):
    inputs = make_inputs(1, 8, 12, 2, 2, dtype=dtype)
    got, want = run(inputs, "triton", out_dtype=out_dtype), run(inputs, "ref", out_dtype=out_dtype)
    assert got["out"].dtype == (out_dtype or dtype) and got["grad_u"].dtype == dtype
    tol = 1e-2 if dtype == torch.bfloat16 else 2e-3
    assert_match(got, want, rtol=tol, atol=tol, grad_rtol=2 * tol, grad_atol=2 * tol)


@pytest.mark.parametrize("groups", [None, 2])
def test_triton_states_output(groups):
    """C=None: states (batch, D, N, L) forward and backward in the kernel."""
    inputs = make_inputs(1, 4, 10, 3, groups, with_C=False)
    got, want = run(inputs, "triton"), run(inputs, "ref")
    assert got["out"].shape == (1, 4, 3, 10)
    assert_match(got, want)


def test_triton_deterministic():
    inputs = make_inputs(1, 8, 12, 2, 2)
    first, second = run(inputs, "triton"), run(inputs, "triton")
    for key in first:
        assert torch.equal(first[key], second[key]), key


@pytest.mark.parametrize("case", ["case_a", "case_b", "case_c"])
def test_triton_official_fixtures(fixtures_dir, case):
    check_official_fixture(fixtures_dir / "selective_scan_ref" / f"{case}.pt", "triton")


def test_tile_overrides_change_tiles_not_results(monkeypatch):
    """kernels/tune.py sweeps tile shapes through TILE_OVERRIDES: every shape must compute the same function."""
    from visionssm.kernels import triton_scan

    inputs = make_inputs(1, 8, 21, 2, 2)
    want = run(inputs, "ref")
    for tiles in [(1, 4, 1), (4, 16, 2, 2), (2, 8, 4)]:
        monkeypatch.setattr(triton_scan, "TILE_OVERRIDES", {"fwd": tiles, "bwd": tiles})
        geo = triton_scan._Geometry(inputs["u"], inputs["A"], inputs["B"], inputs["C"])
        assert geo.bl == tiles[1] and geo.launch("fwd")[0] == tiles[0]
        assert_match(run(inputs, "triton"), want)
    monkeypatch.setattr(triton_scan, "TILE_OVERRIDES", {"fwd": (1, 4, 1), "bwd": (1, 8, 1)})
    with pytest.raises(ValueError, match="share BL"):
        triton_scan._Geometry(inputs["u"], inputs["A"], inputs["B"], inputs["C"])


def test_cuda_tile_heuristic():
    """GPU tiles: training and many programs use BL = 256 for both kernels; a small inference call uses 512."""
    from visionssm.kernels.triton_scan import _cuda_tiles

    train = _cuda_tiles(2, 384, 3136, 1, 96, training=True)
    assert train["fwd"][1] == train["bwd"][1] == 256
    assert _cuda_tiles(2, 384, 3136, 1, 96, training=False)["fwd"][:2] == (2, 512)
    assert _cuda_tiles(8, 768, 3136, 1, 192, training=False)["fwd"][:2] == (2, 256)
    assert _cuda_tiles(2, 768, 784, 1, 192, training=False)["fwd"][:2] == (2, 1024)
    n16 = _cuda_tiles(8, 384, 3136, 16, 96)
    assert n16["fwd"][1] == n16["bwd"][1] and n16["fwd"][0] * 16 * n16["fwd"][1] <= 2048


def test_cuda_check_script_runs_under_interpreter():
    """The correctness half of kernels/tune.py (run on GPUs) at interpreter size: its own code path, on CPU."""
    from visionssm.kernels import tune

    rows = tune.check(torch.device("cpu"), {torch.float32: 1e-4}, {torch.float32: 1e-5},
                      cases=[(1, 8, 12, 2, 2, True, True), (1, 4, 9, 3, None, False, False)])
    assert [r["ok"] for r in rows] == [True, True]
    assert {"out_no_grad", "grad_A", "grad_z"} <= set(rows[0]["errs"]) and "grad_z" not in rows[1]["errs"]


@pytest.mark.parametrize("prefetch", [False, True])
def test_triton_forward_prefetch(monkeypatch, prefetch):
    """The forward with and without next-tile prefetch (the prefetch reads one tile past L, masked)."""
    from visionssm.kernels import triton_scan

    monkeypatch.setattr(triton_scan, "FWD_PREFETCH", prefetch)
    inputs = make_inputs(1, 8, 21, 2, 2)
    assert_match(run(inputs, "triton"), run(inputs, "ref"))
