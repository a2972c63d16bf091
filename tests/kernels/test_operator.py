"""The ``visionssm::selective_scan`` operator: opcheck, fake shapes, dispatch, the implementation switch."""
import importlib

import pytest
import torch

from visionssm.kernels import backend_function, scan_implementation, selective_scan, set_scan_implementation

from .scan_cases import make_inputs

sel = importlib.import_module("visionssm.kernels.selective_scan")
pytestmark = pytest.mark.skipif(not sel.HAS_OPERATOR, reason="torch.library.custom_op needs torch >= 2.4")

# (name, batch, channels, length, state, groups, C given, D, z, delta_bias)
CASES = [
    ("plain", 2, 4, 9, 3, None, True, True, True, True),
    ("no_optionals", 1, 4, 7, 2, None, True, False, False, False),
    ("grouped", 2, 6, 5, 2, 3, True, True, False, True),
    ("hidden_states", 2, 4, 6, 2, None, False, False, False, True),
    ("hidden_states_n1", 1, 8, 5, 1, None, False, False, False, False),
]


def _op_args(case, backend, requires_grad=True):
    _, b, d, length, n, groups, has_c, has_d, has_z, has_bias = case
    x = make_inputs(b, d, length, n, groups)
    x["C"] = x["C"] if has_c else None
    x["D"] = x["D"] if has_d else None
    x["z"] = x["z"] if has_z else None
    x["delta_bias"] = x["delta_bias"] if has_bias else None
    tensors = [x[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
    if requires_grad:
        tensors = [t.detach().clone().requires_grad_() if t is not None else None for t in tensors]
    return (*tensors, True, None, backend)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("backend", ["torch", "ref"])
def test_opcheck(case, backend):
    args = _op_args(case, backend)
    torch.library.opcheck(torch.ops.visionssm.selective_scan.default, args)


def test_opcheck_auto_numba_and_bwd():
    """"auto" (numba on this CPU when installed) through the op, and the backward op on its own."""
    args = _op_args(CASES[0], "auto")
    torch.library.opcheck(torch.ops.visionssm.selective_scan.default, args)
    out, last = torch.ops.visionssm.selective_scan(*args)
    bwd_args = (torch.randn_like(out), torch.randn_like(last), *[a.detach() if isinstance(a, torch.Tensor) else a
                                                                 for a in args])
    torch.library.opcheck(torch.ops.visionssm.selective_scan_bwd.default, bwd_args,
                          test_utils=("test_schema", "test_faketensor", "test_aot_dispatch_static"))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fake_shapes(case):
    from torch._subclasses.fake_tensor import FakeTensorMode
    args = _op_args(case, "torch", requires_grad=False)
    real_out, real_last = torch.ops.visionssm.selective_scan(*args)
    with FakeTensorMode() as mode:
        fake = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
        out, last = torch.ops.visionssm.selective_scan(*fake)
        grads = torch.ops.visionssm.selective_scan_bwd(out, last, *fake)
    assert out.shape == real_out.shape and out.dtype == real_out.dtype
    assert last.shape == real_last.shape and last.dtype == torch.float32
    for g, a in zip(grads, args[:8]):
        assert g.shape == (a.shape if a is not None else (0,))


def test_fake_out_dtype():
    from torch._subclasses.fake_tensor import FakeTensorMode
    args = list(_op_args(CASES[0], "torch", requires_grad=False))
    args[0], args[1] = args[0].bfloat16(), args[1].bfloat16()
    with FakeTensorMode() as mode:
        fake = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
        out, _ = torch.ops.visionssm.selective_scan(*fake[:9], None, "torch")
        out32, _ = torch.ops.visionssm.selective_scan(*fake[:9], torch.float32, "torch")
    assert out.dtype == torch.bfloat16 and out32.dtype == torch.float32


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_op_matches_eager_values_and_grads(backend):
    """The operator (forward and its recomputing backward) gives the backend's own numbers."""
    args = _op_args(CASES[0], backend)
    eager_args = _op_args(CASES[0], backend)
    out, last = torch.ops.visionssm.selective_scan(*args)
    ref_out, ref_last = selective_scan(*eager_args[:9], return_last_state=True, backend=backend)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=0)
    torch.testing.assert_close(last, ref_last, rtol=0, atol=0)
    (out.square().sum() + last.sum()).backward()
    (ref_out.square().sum() + ref_last.sum()).backward()
    for a, b in zip(args[:8], eager_args[:8]):
        if a is not None:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-6)


def test_compiled_function_uses_the_op():
    args = _op_args(CASES[0], "auto")
    fn = torch.compile(lambda *a: selective_scan(*a[:9], return_last_state=True), fullgraph=True, backend="aot_eager")
    out, last = fn(*args)
    ref_out, ref_last = selective_scan(*args[:9], return_last_state=True)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(last, ref_last)
    explain = torch._dynamo.explain(lambda *a: selective_scan(*a[:9]))(*args)
    assert explain.graph_break_count == 0
    ops = [str(n.target) for g in explain.graphs for n in g.graph.nodes if n.op == "call_function"]
    assert any("visionssm.selective_scan" in o for o in ops), ops


def test_rejects_d_state_zero():
    x = make_inputs(1, 4, 5, 1)
    with pytest.raises(ValueError, match=r"d_state N = 0"):
        selective_scan(x["u"], x["delta"], x["A"][:, :0], x["B"][:, :0], x["C"][:, :0])


@pytest.mark.parametrize("name", ["u", "delta", "B", "C", "D", "z", "delta_bias"])
@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64])
def test_rejects_non_float(name, dtype):
    x = make_inputs(1, 4, 5, 2)
    x[name] = x[name].to(dtype) if dtype != torch.bool else x[name] > 0
    with pytest.raises(TypeError, match=rf"`{name}` has dtype {dtype}; .* convert it with .float\(\)"):
        selective_scan(*[x[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")], True)


def test_finite_check_is_opt_in(monkeypatch):
    x = make_inputs(1, 4, 5, 2)
    x["delta"] = torch.full_like(x["delta"], float("nan"))
    args = [x[k] for k in ("u", "delta", "A", "B", "C")]
    assert torch.isnan(selective_scan(*args, backend="torch")).all()
    with pytest.raises(ValueError, match="contains NaN or Inf"):
        selective_scan(*args, backend="torch", check_finite=True)
    monkeypatch.setenv("VISIONSSM_CHECK_FINITE", "1")
    monkeypatch.setattr(sel, "_SETTINGS", None)
    with pytest.raises(ValueError, match="contains NaN or Inf"):
        selective_scan(*args, backend="torch")


def test_scan_implementation_switch(monkeypatch):
    calls = []
    real = backend_function("ref")
    monkeypatch.setattr(importlib.import_module("visionssm.kernels.ref"), "selective_scan_ref",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    x = make_inputs(1, 4, 5, 2)
    args = [x[k] for k in ("u", "delta", "A", "B", "C")]
    with scan_implementation("ref"):
        selective_scan(*args, backend="torch")  # overrides the caller's backend too
        with torch.no_grad():
            torch.compile(lambda *a: selective_scan(*a), fullgraph=True, backend="eager")(*args)
    assert sel.get_scan_implementation() is None
    selective_scan(*args)
    assert len(calls) == 2
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        set_scan_implementation("nope")


def test_export_backend_is_lazy(monkeypatch):
    """The "export" name resolves kernels/export_scan.py at use; a missing file is one clear error."""
    real_import = importlib.import_module

    def fake_import(name, package=None):
        if name == ".export_scan":
            err = ModuleNotFoundError(f"No module named '{package}.export_scan'")
            err.name = f"{package}.export_scan"
            raise err
        return real_import(name, package)

    monkeypatch.setattr(sel.importlib, "import_module", fake_import)
    with pytest.raises(RuntimeError, match=r"backend 'export' needs the module kernels/export_scan.py"):
        set_scan_implementation("export")
    x = make_inputs(1, 4, 5, 2)
    with pytest.raises(RuntimeError, match=r"kernels/export_scan.py"):
        selective_scan(*[x[k] for k in ("u", "delta", "A", "B", "C")], backend="export")
