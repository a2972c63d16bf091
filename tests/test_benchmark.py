"""tools/benchmark.py: exact FLOP accounting of the selective scan, and an end-to-end run at a tiny size."""
import contextlib
import importlib
import json
from typing import Optional

import pytest
import torch
from torch import nn

from visionssm.benchmark import (
    REFERENCE_MODELS,
    ModelSpec,
    build_parser,
    count_flops,
    main,
    markdown_table,
    parse_model_spec,
    peak_memory_mib,
)
from visionssm.kernels import selective_scan_flops
from visionssm.layers import SS2D

scan_module = importlib.import_module("visionssm.kernels.selective_scan")
torch_scan = importlib.import_module("visionssm.kernels.torch_scan")


def test_linear_flops_are_counted_exactly_as_multiply_adds():
    fc = count_flops(nn.Linear(16, 32, bias=False), (16,), batch=3)
    assert fc.torch_flops == 2 * 3 * 16 * 32
    assert fc.flops == 3 * 16 * 32 and fc.scan_flops == 0 and fc.scan_calls == 0


@pytest.mark.parametrize("backend", ["torch", "ref"])
def test_ss2d_scan_flops_follow_vmamba_formula(backend):
    dim, d_state, H, W, batch = 32, 4, 5, 6, 2  # dim 32: dt_rank 2 (a rank-1 einsum would lower to a plain mul)
    layer = SS2D(dim, scan="cross", d_state=d_state, ssm_ratio=2.0, channels_first=True, backend=backend).eval()
    K, d_inner, L = layer.num_directions, layer.d_inner, H * W
    fast = count_flops(layer, (dim, H, W), batch=batch)
    real = count_flops(layer, (dim, H, W), batch=batch, run_scan=True)
    # the cross scan runs its 4 directions as one grouped call: 9·B·L·(K·d)·N + B·(K·d)·L for D
    expected = 9 * batch * L * K * d_inner * d_state + batch * K * d_inner * L
    assert expected == selective_scan_flops(batch, L, K * d_inner, d_state, with_D=True)
    assert fast.scan_flops == real.scan_flops == expected
    # the scan's own ops are hidden from FlopCounterMode whichever backend runs (or none)
    assert fast.torch_flops == real.torch_flops > 0
    # the projections around the scan: in_proj (C→2d), x_proj (K·(R+2N)), dt_proj, out_proj (d→C), dw conv 3×3
    R = layer.ssm.dt_rank
    assert R == 2
    macs = batch * L * (dim * 2 * d_inner + K * d_inner * (R + 2 * d_state) + K * R * d_inner + d_inner * dim
                        + d_inner * 9)
    assert fast.torch_flops == 2 * macs
    assert fast.flops == macs + expected


def test_flop_counting_leaves_no_hook_or_stub_behind():
    original = torch_scan.selective_scan_torch
    count_flops(SS2D(8, d_state=2, channels_first=True), (8, 4, 4))
    assert scan_module.SCAN_HOOKS == []
    assert torch_scan.selective_scan_torch is original


def test_model_specs_parse_literals_and_words():
    spec = parse_model_spec("vmamba_tiny:d_state=1,depths=(1,1,2,1),scan=hilbert,drop_path_rate=0.0")
    assert spec == ModelSpec("vmamba_tiny", {"d_state": 1, "depths": (1, 1, 2, 1), "scan": "hilbert",
                                             "drop_path_rate": 0.0})
    assert parse_model_spec("convnext_tiny").kwargs == {}
    with pytest.raises(ValueError, match="key=value"):
        parse_model_spec("vmamba_tiny:oops")


def test_cpu_peak_memory_sees_a_known_allocation():
    peak = peak_memory_mib(lambda: torch.ones(1024, 1024).sum(), torch.device("cpu"))  # 4 MiB of float32
    assert peak is not None and 3.9 < peak < 8


def test_default_references_are_timms_three():
    assert build_parser().parse_args([]).references == list(REFERENCE_MODELS)
    assert REFERENCE_MODELS == ("convnext_tiny", "swin_tiny_patch4_window7_224", "deit_small_patch16_224")


@pytest.mark.slow
def test_end_to_end_tiny_run_writes_json_and_ratios(tmp_path, capsys):
    out = tmp_path / "res.json"
    spec = "vmamba_tiny_s1l8:depths=(1,1,1,1),dims=16"
    res = main(["--models", spec, "--references", "test_convnext", "--device", "cpu", "--img-size", "32",
                "--batch-size", "2", "--rounds", "2", "--iters", "1", "--warmup", "1", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["command"].startswith("python tools/benchmark.py")
    assert [m["label"] for m in saved["models"]] == ["vmamba_tiny_s1l8:depths=(1, 1, 1, 1),dims=16", "test_convnext"]
    ours, ref = saved["models"]
    assert ours["scan_flops"] > 0 and ref["scan_flops"] == 0 and ours["flops"] > ours["scan_flops"]
    assert ours["input_size"] == [3, 32, 32]
    for mode in ("infer", "train"):
        assert ours[mode]["img_per_s"] > 0 and len(ours[mode]["img_per_s_rounds"]) == 2
        assert ours[mode]["peak_mem_mib"] > 0
        assert ref["ratio"][mode]["test_convnext"] == pytest.approx(1.0)
        assert ours["ratio"][mode]["test_convnext"] == pytest.approx(
            ours[mode]["img_per_s"] / ref[mode]["img_per_s"])
    assert saved["environment"]["loadavg_start"] is not None and saved["settings"]["batch_size"] == 2
    assert saved["environment"]["scan_backend"] == "numba" and saved["environment"]["numba"]  # what the CPU timed
    table = capsys.readouterr().out
    assert "infer × test_convnext" in table and markdown_table(res).splitlines()[0] in table


def test_unknown_model_names_the_registered_ones():
    with pytest.raises(ValueError, match="vmamba_tiny_s1l8"):
        main(["--models", "no_such_model", "--references", "--device", "cpu", "--flops-only"])


def test_profile_prints_an_op_table():
    res = main(["--models", "vmamba_tiny_s1l8:depths=(1,1,1,1),dims=16", "--profile", "--modes", "infer",
                "--img-size", "32", "--batch-size", "1", "--device", "cpu"])
    (table,) = res["profile"].values()
    assert "Self CPU" in table and "aten::" in table


def _scan_args(with_C: bool):
    g = torch.Generator().manual_seed(0)
    batch, channels, length, state = 2, 3, 5, 4
    u = torch.randn(batch, channels, length, generator=g)
    C = torch.randn(batch, state, length, generator=g) if with_C else None
    return (u, torch.randn(batch, channels, length, generator=g), -torch.rand(channels, state, generator=g) - 0.5,
            torch.randn(batch, state, length, generator=g), C, torch.randn(channels, generator=g),
            torch.randn(batch, channels, length, generator=g))


@pytest.mark.parametrize("with_C,expected", [
    # B 2, L 5, D 3, N 4: 9·120 for the scan with <C, h>, + 2·5·3 for D, + 2·5·3 for z
    (True, 9 * 2 * 5 * 3 * 4 + 30 + 30),
    # hidden states out: no <C, h> (one multiply-add, 2 FLOPs, per b, d, l, n) and no D or z (not applied)
    (False, 7 * 2 * 5 * 3 * 4),
])
@pytest.mark.parametrize("run_scan", [False, True])
def test_one_scan_counter_by_hand(with_C, expected, run_scan):
    """benchmark.count_flops and medical.count_flops are one counter: same scan FLOPs, hand-computed."""
    from visionssm.kernels import selective_scan
    from visionssm.medical import count_flops as medical_count_flops

    args = _scan_args(with_C)

    class Scan(nn.Module):
        def forward(self, u):
            return selective_scan(u, *args[1:], delta_softplus=True, backend="torch")

    fc = count_flops(Scan(), args[0].shape[1:], batch=2, run_scan=run_scan)
    assert fc.scan_flops == expected and fc.torch_flops == 0 and fc.scan_calls == 1
    assert medical_count_flops(Scan(), args[0]).scan_flops == expected
    assert selective_scan_flops(2, 5, 3, 4, with_D=True, with_z=True, with_C=with_C) == expected


def test_custom_op_calls_are_counted_once(monkeypatch):
    """A scan registered as a torch.library custom op is counted by FlopCounterMode's formula when called directly
    (compiled code bypasses the Python function and its hooks), and once, not twice, through the Python function."""
    import visionssm.benchmark as bm
    from visionssm.kernels import selective_scan

    @torch.library.custom_op("visionssm_test::scan", mutates_args=())
    def op(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: Optional[torch.Tensor],
           D: Optional[torch.Tensor], z: Optional[torch.Tensor]) -> torch.Tensor:
        return selective_scan(u, delta, A, B, C, D, z, backend="ref")

    monkeypatch.setattr(bm, "_scan_op", lambda: torch.ops.visionssm_test.scan)
    args = _scan_args(True)

    class Direct(nn.Module):  # what a compiled graph does: the op itself
        def forward(self, u):
            return torch.ops.visionssm_test.scan(u, *args[1:])

    class Wrapped(nn.Module):  # a Python function that runs the hooks around the op: both see the call
        def forward(self, u):
            info = {"batch": 2, "channels": 3, "length": 5, "state": 4, "groups": 1, "has_C": True, "has_D": True,
                    "has_z": True, "backend": "ref"}
            with contextlib.ExitStack() as stack:
                for hook in list(scan_module.SCAN_HOOKS):
                    cm = hook(info)
                    if cm is not None:
                        stack.enter_context(cm)
                return torch.ops.visionssm_test.scan(u, *args[1:])

    expected = 9 * 2 * 5 * 3 * 4 + 30 + 30
    # the op's kernel calls the Python function (whose hook fires inside the op): still counted once
    direct = count_flops(Direct(), (3, 5), batch=2, run_scan=True)
    assert direct.scan_flops == expected and direct.torch_flops == 0
    wrapped = count_flops(Wrapped(), (3, 5), batch=2, run_scan=True)
    assert wrapped.scan_flops == expected and wrapped.torch_flops == 0
