"""kernels/bench.py runs end to end at a tiny size, with the CPU timer and a same-process baseline."""
from pathlib import Path

import pytest
import torch

from visionssm.kernels import bench


def test_bench_cpu_timer_and_baseline(capsys):
    scan_file = Path(bench.__file__).with_name("torch_scan.py")
    bench.main(["--threads", "1", "--dims", "8", "--lengths", "20", "--states", "1", "--groups", "2",
                "--repeats", "1", "--backends", "ref", "torch", "--timer", "cpu", "--baseline", str(scan_file)])
    out = capsys.readouterr().out
    assert "median CPU time" in out
    assert "ref/torch=" in out and "baseline/torch=" in out
    assert len([line for line in out.splitlines() if line.strip().startswith("2 ")]) == 2  # fwd and fwd+bwd rows


def test_bench_baseline_missing_file():
    with pytest.raises(FileNotFoundError, match="--baseline"):
        bench.load_baseline("/nonexistent/torch_scan.txt")


def test_essential_bytes_by_hand():
    """batch 2, D 3, L 5, N 4, one B/C group: 30 elements of u-size, 40 of B-size."""
    assert bench.essential_bytes(2, 3, 5, 4, 1, "fwd") == 30 * 3 * 4 + 2 * 40 * 4  # u, Δ in, y out; B, C in
    assert bench.essential_bytes(2, 3, 5, 4, 1, "bwd") == 30 * 5 * 4 + 2 * 40 * (4 + 4)  # + dy in, du, dΔ out; dB, dC
    assert bench.essential_bytes(2, 3, 5, 4, 1, "fwd+bwd") == (360 + 320) + (600 + 640)
    # bf16 inputs, float32 output: y and dy are 4 bytes, the rest 2 (dB, dC float32)
    assert bench.essential_bytes(2, 3, 5, 4, 1, "fwd", in_bytes=2, out_bytes=4) == 30 * (2 + 2 + 4) + 2 * 40 * 2
    with pytest.raises(ValueError, match="mode='both'"):
        bench.essential_bytes(2, 3, 5, 4, 1, "both")


def test_one_input_builder():
    """bench, tune and the tests draw inputs from one builder: argument order, shapes, dtypes, A's range."""
    case = bench.bench_inputs(2, 8, 7, 3, 4, torch.bfloat16, "cpu")
    assert list(case) == ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"] and case["z"] is None
    assert case["B"].shape == (2, 4, 3, 7) and case["u"].dtype == torch.bfloat16 and case["A"].dtype == torch.float32
    assert bool((case["A"] < 0).all())
    uniform = bench.make_inputs(1, 8, 7, 3)
    assert uniform["B"].shape == (1, 3, 7) and bool(((uniform["A"] >= -1.5) & (uniform["A"] < -0.5)).all())
    assert uniform["u"].is_contiguous() and not bench.make_inputs(1, 8, 7, 3, non_contiguous=True)["u"].is_contiguous()
    with pytest.raises(ValueError, match="A_init='normal'"):
        bench.make_inputs(1, 8, 7, 3, A_init="normal")
