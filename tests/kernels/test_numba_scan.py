"""The fused numba CPU kernel: what the shared reference tests do not reach (lanes, tiles, dispatch, threads)."""
import importlib
import threading

import pytest
import torch

import visionssm.kernels.numba_scan as ns
from visionssm.kernels import available_backends, selective_scan

from .scan_cases import assert_match, make_inputs, run


@pytest.mark.parametrize("channels,groups,lanes", [(128, 2, 64), (64, 2, 32), (24, 1, 8), (12, 3, 4), (6, 3, 2), (5, 1, 1)])
def test_lanes_divide_group_channels(channels, groups, lanes):
    """A program's lanes never straddle a B/C group, whatever the channel count."""
    assert ns.lanes_for(channels, groups) == lanes
    inputs = make_inputs(2, channels, 23, 2, groups)
    assert_match(run(inputs, "numba"), run(inputs, "ref"))


@pytest.mark.parametrize("length", [ns.TILE - 1, ns.TILE, ns.TILE + 1, 3 * ns.TILE + 5])
def test_tile_boundaries(length):
    """The backward restarts every tile from the forward's checkpoint: lengths around the tile size."""
    inputs = make_inputs(1, 16, length, 3, 1)
    assert_match(run(inputs, "numba"), run(inputs, "ref"))


def test_grad_of_last_state_only():
    """A loss on the last state alone (dy = None in the backward) still reaches every input."""
    inputs = make_inputs(1, 8, 20, 2, 2, with_z=False)
    leaves = {k: v.clone().requires_grad_() for k, v in inputs.items() if v is not None}
    grads = {}
    for backend in ("ref", "numba"):
        for v in leaves.values():
            v.grad = None
        _, last = selective_scan(leaves["u"], leaves["delta"], leaves["A"], leaves["B"], leaves["C"], leaves["D"],
                                 None, leaves["delta_bias"], True, True, backend=backend)
        last.pow(2).sum().backward()
        grads[backend] = {k: v.grad.clone() for k, v in leaves.items() if v.grad is not None}
    assert set(grads["ref"]) == {"u", "delta", "A", "B", "delta_bias"}
    for k in set(grads["numba"]) - set(grads["ref"]):  # C and D do not reach the last state: zero, not None
        assert not grads["numba"][k].any(), k
    for k, want in grads["ref"].items():
        torch.testing.assert_close(grads["numba"][k], want, rtol=1e-4, atol=1e-5, msg=lambda m, k=k: f"{k}: {m}")


def test_auto_picks_numba_on_cpu(monkeypatch):
    """auto: numba when y is asked for, torch for the state output (C=None) at d_state > 1 or when the env var
    says so."""
    assert ns.numba_compiles()  # the once-per-process compile check calls the kernels itself: before counting
    calls = []
    for module, name in ((ns, "selective_scan_numba"), (__import__("visionssm.kernels.torch_scan").kernels.torch_scan,
                                                        "selective_scan_torch")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    assert "numba" in available_backends()
    inputs = make_inputs(1, 4, 9, 2, 1)
    args = [inputs[k] for k in ("u", "delta", "A", "B", "C")]
    selective_scan(*args)
    selective_scan(*args[:4], None)
    monkeypatch.setenv("VISIONSSM_CPU_SCAN", "torch")
    monkeypatch.setattr(importlib.import_module("visionssm.kernels.selective_scan"), "_SETTINGS", None)  # settings are read once; re-read them
    selective_scan(*args)
    assert calls == ["selective_scan_numba", "selective_scan_torch", "selective_scan_torch"]


def test_explicit_numba_rejects_state_output_beyond_state_1():
    inputs = make_inputs(1, 4, 9, 2, 1)
    with pytest.raises(ValueError, match="for d_state 1 only, got d_state 2; use backend='torch'"):
        selective_scan(inputs["u"], inputs["delta"], inputs["A"], inputs["B"], None, backend="numba")


@pytest.mark.parametrize("channels,groups", [(8, None), (16, 2), (6, 3)])  # rows, rows, lanes (2 per program)
def test_state_output_at_state_1(channels, groups):
    """C=None at d_state 1 (Spatial-Mamba): the states, last state and all gradients match the reference, and auto
    picks numba for it."""
    inputs = make_inputs(2, channels, 70, 1, groups, with_C=False)
    want, got = run(inputs, "ref"), run(inputs, "numba")
    assert got["out"].shape == (2, channels, 1, 70) and "grad_D" not in got and "grad_z" not in got
    assert_match(got, want)
    from visionssm.kernels.selective_scan import _auto_backend
    assert _auto_backend(inputs["u"], None, 1) == "numba" and _auto_backend(inputs["u"], None, 2) == "torch"


def test_concurrent_calls_from_threads():
    """Two Python threads scanning at once (numba's default thread pool is not re-entrant): same results."""
    inputs = make_inputs(2, 16, 70, 4, 2, with_z=False)
    args = [inputs[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
    want = selective_scan(*args, delta_softplus=True, backend="ref")
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(selective_scan(*args, delta_softplus=True, backend="numba"))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 15
    for got in results:
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_inference_keeps_no_checkpoints(monkeypatch):
    """No grad: the lanes forward (d_state 3 > ROWS_MAX_STATE) is told to keep nothing (an empty checkpoint array)."""
    seen = []
    real = ns.scan_fwd
    monkeypatch.setattr(ns, "scan_fwd", lambda *a: seen.append(a[10].shape) or real(*a))
    inputs = make_inputs(1, 16, 130, 3, 1)
    args = [inputs[k] for k in ("u", "delta", "A", "B", "C")]
    with torch.no_grad():
        selective_scan(*args, backend="numba")
    selective_scan(*[a.clone().requires_grad_() for a in args], backend="numba")
    assert seen[0][0] == 0 and seen[1] == (1, 1, -(-130 // ns.TILE), 3 * 16)


def _scan_in_child(_):
    inputs = make_inputs(1, 16, 40, 2, 1, with_z=False)
    return selective_scan(*[inputs[k] for k in ("u", "delta", "A", "B", "C")], backend="numba").sum().item()


def test_scan_in_forked_child_after_parent_used_it():
    """A process that scanned, then forked (DataLoader workers, multiprocessing pools), can scan in the child: with
    numba's GNU OpenMP threading layer a parallel kernel aborts there, so children run the serial twin."""
    import multiprocessing

    want = _scan_in_child(0)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.map_async(_scan_in_child, [0]).get(timeout=60)
    assert got == [want]


def test_without_numba_auto_falls_back_to_torch(monkeypatch):
    """numba is a dependency, but a stripped install must still scan (PyTorch path) and say how to get numba."""
    monkeypatch.setattr(ns, "numba", None)
    assert "numba" not in available_backends()
    inputs = make_inputs(1, 8, 12, 2, 1, with_z=False)
    args = [inputs[k] for k in ("u", "delta", "A", "B", "C")]
    torch.testing.assert_close(selective_scan(*args), selective_scan(*args, backend="ref"), rtol=1e-4, atol=1e-4)
    with pytest.raises(RuntimeError, match="pip install numba"):
        selective_scan(*args, backend="numba")


def test_disabled_jit_is_not_offered(monkeypatch):
    """NUMBA_DISABLE_JIT=1 would run the kernels as Python loops over tokens: auto must not pick them then."""
    monkeypatch.setattr(ns.numba.config, "DISABLE_JIT", True)
    assert "numba" not in available_backends()
    inputs = make_inputs(1, 8, 12, 2, 1, with_z=False)
    from visionssm.kernels.selective_scan import _auto_backend
    assert _auto_backend(inputs["u"], inputs["C"], 2) == "torch"


def test_compile_failure_falls_back_with_a_warning(monkeypatch):
    """A platform where the kernels do not compile: one warning naming the cause, then the PyTorch path."""
    def broken():
        raise RuntimeError("LLVM says no")

    monkeypatch.setattr(ns, "_compiles", None)
    monkeypatch.setattr(ns, "warmup", broken)
    inputs = make_inputs(1, 8, 12, 2, 1, with_z=False)
    args = [inputs[k] for k in ("u", "delta", "A", "B", "C")]
    with pytest.warns(RuntimeWarning, match="failed to compile.*LLVM says no.*PyTorch path"):
        out = selective_scan(*args)
    torch.testing.assert_close(out, selective_scan(*args, backend="ref"), rtol=1e-4, atol=1e-4)
    assert ns._compiles is False


@pytest.mark.parametrize("state", [1, 2, 3])
def test_rows_and_lanes_layouts_agree(monkeypatch, state):
    """Small d_state runs by rows, larger by lanes (ROWS_MAX_STATE): both layouts give the reference's answer."""
    inputs = make_inputs(2, 16, 45, state, 2)
    want = run(inputs, "ref")
    for limit in (0, 4):  # all by lanes, then all by rows
        monkeypatch.setattr(ns, "ROWS_MAX_STATE", limit)
        assert_match(run(inputs, "numba"), want)


def test_compile_check_survives_the_flop_counter_stub(monkeypatch):
    """The FLOP counter replaces selective_scan_numba by a zero stub; a compile check run under it must still
    exercise the real kernels (else the whole process would fall back to the PyTorch path)."""
    monkeypatch.setattr(ns, "_compiles", None)
    monkeypatch.setattr(ns, "selective_scan_numba", lambda *a, **k: torch.zeros(1, 2, 3))
    assert ns.numba_compiles() is True


@pytest.mark.parametrize("channels,groups", [(8, 2), (6, 3)])  # 4 lanes (the rows layout's case) and 2 lanes
@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_zero_state_gives_the_reference_answer(channels, groups, backend):
    """d_state 0, each backend called directly: no states, y = D·u gated by z, zero gradients for Δ; nothing left
    unwritten (numba's rows layout writes y inside its loop over states, so d_state 0 must not take it)."""
    from visionssm.kernels.ref import selective_scan_ref
    from visionssm.kernels.torch_scan import selective_scan_torch

    impl = ns.selective_scan_numba if backend == "numba" else selective_scan_torch
    inputs = make_inputs(2, channels, 11, 0, groups)
    args = [inputs[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
    for _ in range(3):  # fresh outputs each time: uninitialised memory would not repeat D·u
        got, last = impl(*args, delta_softplus=True, return_last_state=True)
        want, want_last = selective_scan_ref(*args, delta_softplus=True, return_last_state=True)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
        assert last.shape == want_last.shape == (2, channels, 0)
    leaves = [a.detach().clone().requires_grad_() for a in args]
    impl(*leaves, delta_softplus=True).sum().backward()
    assert leaves[1].grad is not None and bool((leaves[1].grad == 0).all())
    torch.testing.assert_close(leaves[0].grad, (inputs["D"][None, :, None] * torch.nn.functional.silu(inputs["z"])))


_FRESH_PROCESS = """
import torch
from visionssm.kernels import selective_scan
torch.manual_seed(0)
torch.set_num_threads(1)  # differs from numba's default count: starting numba's OpenMP layer used to change it
lin = torch.nn.Linear(64, 64)
u = torch.randn(2, 64, 40)
args = (u, torch.randn(2, 64, 40), -torch.rand(64, 1) - 0.5, torch.randn(2, 1, 1, 40), torch.randn(2, 1, 1, 40))

def model():
    x = lin(u.transpose(1, 2)).transpose(1, 2)
    return lin(selective_scan(x, *args[1:], delta_softplus=True).transpose(1, 2))

with torch.no_grad():
    first = model()  # runs the one-time numba compile check
    threads = torch.get_num_threads()
    second = model()
print(threads, bool(torch.equal(first, second)))
"""


@pytest.mark.slow
def test_fresh_process_gives_the_same_output_on_every_call():
    """The first call of a fresh process (the one that runs numba's compile check) must equal every later call:
    starting numba's OpenMP layer must not change torch's thread count (hence matmul summation orders)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])))
    env.pop("VISIONSSM_CPU_SCAN", None)
    res = subprocess.run([sys.executable, "-c", _FRESH_PROCESS], capture_output=True, text=True, env=env,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["1", "True"], res.stdout + res.stderr[-2000:]
