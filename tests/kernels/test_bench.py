"""kernels/bench.py runs end to end at a tiny size, with the CPU timer and a same-process baseline."""
from pathlib import Path

import pytest

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
