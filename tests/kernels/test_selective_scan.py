"""The CPU backends (torch, numba) and the reference against the reference and the official mamba fixtures."""
import math

import pytest
import torch

from visionssm.kernels import selective_scan

from .scan_cases import FIXTURE_ARGS, GRAD_NAMES, assert_match, check_official_fixture, make_inputs, run

FAST = ["torch", "numba"]  # the two CPU backends that must both match the reference


@pytest.mark.parametrize("state", [1, 16])
@pytest.mark.parametrize("groups", [None, 2])
@pytest.mark.parametrize("opts", [dict(), dict(with_D=False, with_z=False, with_bias=False)], ids=["DzBias", "plain"])
@pytest.mark.parametrize("softplus", [True, False])
@pytest.mark.parametrize("backend", FAST)
def test_matches_ref(backend, state, groups, opts, softplus):
    inputs = make_inputs(2, 8, 37, state, groups, **opts)
    if not softplus:  # without softplus keep Δ > 0 (decays in (0, 1]) like a real model
        inputs["delta"] = inputs["delta"].abs() + 0.05
        inputs["delta_bias"] = None if inputs["delta_bias"] is None else inputs["delta_bias"].abs()
    want = run(inputs, "ref", delta_softplus=softplus)
    got = run(inputs, backend, delta_softplus=softplus)
    expected = {"out", "last_state"} | {"grad_" + k for k in GRAD_NAMES if inputs[k] is not None}
    assert set(want) == expected
    assert_match(got, want)


@pytest.mark.parametrize("length", [1, 2, 3, 64, 65, 200])
@pytest.mark.parametrize("backend", FAST)
def test_lengths(backend, length):
    inputs = make_inputs(1, 6, length, 3, 3)
    assert_match(run(inputs, backend), run(inputs, "ref"))


@pytest.mark.parametrize("backend", ["ref", *FAST])
@pytest.mark.parametrize("with_C", [True, False])
def test_empty_sequence(backend, with_C):
    """L = 0: an empty output and a zero state, not an error from inside a backend."""
    inputs = make_inputs(2, 8, 0, 3, 2, with_C=with_C)
    out, last = selective_scan(*[inputs[k] for k in FIXTURE_ARGS], delta_softplus=True, return_last_state=True,
                               backend=backend)
    assert out.shape == ((2, 8, 0) if with_C else (2, 8, 3, 0)) and last.shape == (2, 8, 3) and not last.any()


@pytest.mark.parametrize("backend", FAST)
def test_non_contiguous(backend):
    inputs = make_inputs(2, 8, 33, 4, 4, non_contiguous=True)
    assert not inputs["u"].is_contiguous() and not inputs["B"].is_contiguous()
    assert_match(run(inputs, backend), run(inputs, "ref"))


def test_torch_channel_blocks(monkeypatch):
    """Tiny channel blocks: blocks inside one group and blocks of whole groups must give the same answer."""
    import visionssm.kernels.torch_scan as ts

    inputs = make_inputs(2, 12, 21, 2, 3)
    want = run(inputs, "ref")
    monkeypatch.setattr(ts, "MIN_BLOCK_CHANNELS", 1)
    for elems in (1, 2 * 2 * 21 * 2, 8 * 2 * 21 * 2):
        monkeypatch.setattr(ts, "BLOCK_ELEMS", elems)
        assert_match(run(inputs, "torch"), want)


@pytest.mark.parametrize("backend", FAST)
def test_mixed_groups(backend):
    """B and C with different group counts (each channel tile must respect both)."""
    inputs = make_inputs(1, 12, 17, 2, 2)
    inputs["C"] = torch.randn(1, 3, 2, 17)
    assert_match(run(inputs, backend), run(inputs, "ref"))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("out_dtype", [None, torch.float32])
@pytest.mark.parametrize("backend", FAST)
def test_half_inputs(backend, dtype, out_dtype):
    inputs = make_inputs(2, 8, 40, 4, 2, dtype=dtype)
    want = run(inputs, "ref", out_dtype=out_dtype)
    got = run(inputs, backend, out_dtype=out_dtype)
    assert got["out"].dtype == (out_dtype or dtype) and got["last_state"].dtype == torch.float32
    assert got["grad_u"].dtype == dtype and got["grad_B"].dtype == dtype
    # both accumulate in float32 from the same half inputs; half-precision rounding of outputs and grads only
    tol = 1e-2 if dtype == torch.bfloat16 else 2e-3
    assert_match(got, want, rtol=tol if out_dtype is None else 1e-4, atol=tol if out_dtype is None else 1e-4,
                 grad_rtol=2 * tol, grad_atol=2 * tol)


@pytest.mark.parametrize("groups", [None, 2])
def test_torch_states_output(groups):
    """C=None returns the hidden states (batch, D, N, L); gradients flow through them."""
    inputs = make_inputs(2, 4, 19, 3, groups, with_C=False)
    want, got = run(inputs, "ref"), run(inputs, "torch")
    assert got["out"].shape == (2, 4, 3, 19)
    torch.testing.assert_close(got["out"][..., -1], got["last_state"])
    assert "grad_D" not in got and "grad_z" not in got  # states are taken before D and the gate
    assert_match(got, want)


@pytest.mark.slow
@pytest.mark.parametrize("backend", FAST)
def test_long_sequence_stable(backend):
    """L = 3136 with strong, weak and mixed decays: finite and equal to the float32 reference loop."""
    L = 3136
    inputs = make_inputs(1, 8, L, 2, 2)
    A = torch.tensor([[-16.0, -1e-3], [-1.0, -4.0]]).repeat(4, 1)
    inputs["A"] = A
    inputs["delta"] = inputs["delta"] * 4  # softplus(δ) up to ~8: exp(Δ·A) down to e^-130
    want = run(inputs, "ref")
    got = run(inputs, backend)
    for v in got.values():
        assert torch.isfinite(v).all()
    assert_match(got, want, rtol=1e-3, atol=1e-3, grad_rtol=2e-3, grad_atol=2e-3)


@pytest.mark.parametrize("case", ["case_a", "case_b", "case_c"])
@pytest.mark.parametrize("backend", ["ref", *FAST])
def test_official_fixtures(fixtures_dir, case, backend):
    check_official_fixture(fixtures_dir / "selective_scan_ref" / f"{case}.pt", backend)


def _args(**over):
    inputs = make_inputs(2, 8, 10, 2, 2)
    inputs.update(over)
    return [inputs[k] for k in FIXTURE_ARGS]


@pytest.mark.parametrize("over,match", [
    (dict(u=torch.randn(2, 8)), r"`u` has shape \(2, 8\), expected \(batch, D, L\)"),
    (dict(delta=torch.randn(2, 8, 11)), r"`delta` has shape"),
    (dict(A=torch.randn(7, 2)), r"`A` has shape \(7, 2\), expected \(8, N\)"),
    (dict(A=-torch.rand(8, 2, dtype=torch.float64)), r"`A` must be float32"),
    (dict(B=torch.randn(2, 3, 2, 10)), r"G=3 groups but D=8 channels"),
    (dict(C=torch.randn(2, 2, 3, 10)), r"`C` has shape"),
    (dict(D=torch.randn(7)), r"`D` has shape"),
    (dict(z=torch.randn(2, 8, 9)), r"`z` has shape"),
    (dict(delta=torch.full((2, 8, 10), math.nan)), r"`delta` contains NaN or Inf"),
])
@pytest.mark.parametrize("backend", ["ref", *FAST])
def test_bad_inputs(over, match, backend):
    exc = TypeError if "float32" in match else ValueError
    with pytest.raises(exc, match=match):
        selective_scan(*_args(**over), backend=backend, check_finite="NaN" in match)  # the NaN check is opt-in


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend 'cuda'"):
        selective_scan(*_args(), backend="cuda")


def _loop_scan(la: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """float64 token loop: h_t = exp(la_t)·h_{t-1} + x_t (test oracle for the scan primitives)."""
    la, x = la.double(), x.double()
    h, out = torch.zeros_like(x[..., 0]), []
    for t in range(x.shape[-1]):
        h = la[..., t].exp() * h + x[..., t]
        out.append(h)
    return torch.stack(out, -1)


@pytest.mark.parametrize("length", [1, 7, 64, 67, 130, 400])
@pytest.mark.parametrize("decay", ["weak", "mixed", "growth"])
@pytest.mark.parametrize("primitive", ["chunk", "pairwise"])
def test_scan_primitives(monkeypatch, length, decay, primitive):
    """Chunked closed form (with padding for L without a divisor in [8, 64], and the pairwise redo of chunks
    whose log-decay sum exceeds MAX_CHUNK_LOG) and its adjoint against a float64 loop."""
    import visionssm.kernels.torch_scan as ts

    monkeypatch.setattr(ts, "PRIMITIVE", primitive)
    g = torch.Generator().manual_seed(length)
    la = -torch.rand(3, 5, length, generator=g) * 0.2
    if decay == "mixed":  # every 4th row decays by up to e^-40 per token: many chunks beyond the closed form
        la[:, ::4] *= 200
    elif decay == "growth":  # positive log-decays: c is not monotone, the check reads every element
        la = la.abs() * 0.1
    x, q = torch.randn(3, 5, length, generator=g), torch.randn(3, 5, length, generator=g)
    h, aux = ts._scan_fwd(la * ts.LOG2E, x, nonpos=decay != "growth")  # the primitives take base-2 log-decays
    if primitive == "chunk" and decay == "mixed" and length > 64:
        assert aux[2] is not None, "expected strong-decay chunks to take the pairwise redo"
    torch.testing.assert_close(h.double(), _loop_scan(la, x), rtol=2e-4, atol=2e-4)
    # adjoint: g_t = exp(la_{t+1})·g_{t+1} + q_t is the forward loop on the reversed sequence (decays shifted)
    la_next = torch.cat([la[..., 1:], torch.zeros_like(la[..., :1])], -1)
    want = _loop_scan(la_next.flip(-1), q.flip(-1)).flip(-1)
    torch.testing.assert_close(ts._scan_bwd(aux, q).double(), want, rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("length", [67, 300])
def test_torch_strong_and_growing_decays(length):
    """End to end on the chunk path's edge cases: no softplus with negative Δ (growing states, unordered
    in-chunk sums) and very strong decays mixed with weak ones in one channel block."""
    inputs = make_inputs(1, 8, length, 1, 2)
    inputs["A"] = torch.tensor([[-60.0], [-0.01], [-1.0], [-8.0]]).repeat(2, 1)
    assert_match(run(inputs, "torch"), run(inputs, "ref"))
    inputs = make_inputs(1, 8, length, 2, 2)
    inputs["delta"] = inputs["delta"] * 0.05  # Δ in about ±0.1 without softplus: la of both signs
    inputs["delta_bias"] = None
    assert_match(run(inputs, "torch", delta_softplus=False), run(inputs, "ref", delta_softplus=False))


@pytest.mark.parametrize("length", [300, 67])  # 300: no padding, Δ/h/e written in place; 67: padded, copied
def test_torch_kept_forward_matches_recompute(monkeypatch, length):
    """N = 1 training keeps Δ, h and e from the forward (written straight into batch-strided kept tensors);
    the backward from them equals the recomputing backward and ref, strong-decay chunks included."""
    import visionssm.kernels.torch_scan as ts

    inputs = make_inputs(2, 8, length, 1, 2)
    inputs["A"] = torch.tensor([[-60.0], [-0.01], [-1.0], [-8.0]]).repeat(2, 1)  # some chunks take the redo
    results = {}
    for keep in ("all", "delta", "none"):
        monkeypatch.setattr(ts, "KEEP_FORWARD_N1", keep)
        results[keep] = run(inputs, "torch")
    assert_match(results["all"], results["none"], rtol=1e-6, atol=1e-6, grad_rtol=1e-5, grad_atol=1e-5)
    assert_match(results["delta"], results["none"], rtol=1e-6, atol=1e-6, grad_rtol=1e-5, grad_atol=1e-5)
    assert_match(results["all"], run(inputs, "ref"))


def test_softplus_log2_accuracy():
    """The exp2/log2 softplus used where torch's is slow stays within ~1e-6 of float64 over Δ's useful range."""
    import torch.nn.functional as F

    import visionssm.kernels.torch_scan as ts

    x = torch.cat([torch.linspace(-20.0, 20.0, 40001), torch.tensor([0.0, 1e-8, -1e-8, 30.0, -30.0])])
    got = ts._softplus_log2(x, ts._Workspace(x.device), torch.empty_like(x)).double()
    want = F.softplus(x.double())
    assert ((got - want).abs() / want).max() < 2e-6


def test_softplus_choice_env(monkeypatch):
    import visionssm.kernels.torch_scan as ts

    monkeypatch.setattr(ts, "_softplus_choice", None)
    monkeypatch.setenv("VISIONSSM_SOFTPLUS", "fast")
    x = torch.randn(8)
    with pytest.raises(ValueError, match="VISIONSSM_SOFTPLUS='fast'.*log2"):
        ts._softplus(x, ts._Workspace(x.device), torch.empty_like(x))
    monkeypatch.setattr(ts, "_softplus_choice", None)
    monkeypatch.setenv("VISIONSSM_SOFTPLUS", "torch")
    torch.testing.assert_close(ts._softplus(x, ts._Workspace(x.device), torch.empty_like(x)),
                               torch.nn.functional.softplus(x))
    assert ts._softplus_choice == "torch"
    monkeypatch.setattr(ts, "_softplus_choice", None)
    monkeypatch.delenv("VISIONSSM_SOFTPLUS")
    ts._softplus(x, ts._Workspace(x.device), torch.empty_like(x))
    assert ts._softplus_choice == "log2"  # fixed, never timed: every run gives the same result


def test_torch_inference_keeps_nothing(monkeypatch):
    """Under no_grad nothing is kept for a backward, although the inputs (parameters) require grad:
    ``ctx.needs_input_grad`` cannot tell, so the grad mode is read before the autograd Function runs."""
    import visionssm.kernels.torch_scan as ts

    built = []
    real = ts._Kept
    monkeypatch.setattr(ts, "_Kept", lambda *a: built.append(a) or real(*a))
    inputs = {k: (v.requires_grad_() if v is not None else None) for k, v in make_inputs(1, 8, 40, 1, 2).items()}
    args = [inputs[k] for k in GRAD_NAMES]
    with torch.no_grad():
        selective_scan(*args, delta_softplus=True, backend="torch")
    assert built == []
    selective_scan(*args, delta_softplus=True, backend="torch").sum().backward()
    assert len(built) == 1


@pytest.mark.parametrize("scale", [0.01, 3.0])  # 3.0: |cumulative log-decay| beyond float64's safe range: doubling
def test_carry_scans_closed_form_and_fallback(scale):
    """Chunk carries H_k = 2^{ld_k}·H_{k-1} + x_k and the reverse Y_k = d_k·Y_{k+1} + q_k against a float64 loop."""
    import visionssm.kernels.torch_scan as ts

    g = torch.Generator().manual_seed(3)
    ld = -torch.rand(2, 3, 200, generator=g, dtype=torch.float64) * scale
    x, q = torch.randn(2, 3, 200, generator=g), torch.randn(2, 3, 200, generator=g)
    want, h = torch.empty(2, 3, 200, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64)
    for k in range(200):
        h = torch.exp2(ld[..., k]) * h + x[..., k]
        want[..., k] = h
    torch.testing.assert_close(ts._carry_scan(ld, x).double(), want, rtol=1e-5, atol=1e-6)
    decay = torch.exp2(ld).float()
    want_r, y = torch.empty_like(want), torch.zeros(2, 3, dtype=torch.float64)
    for k in reversed(range(200)):
        y = decay[..., k].double() * y + q[..., k]
        want_r[..., k] = y
    torch.testing.assert_close(ts._carry_scan_reverse(decay, q, exact_log=True).double(), want_r, rtol=1e-5, atol=1e-6)
