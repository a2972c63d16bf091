"""tools/benchmark.py: exact FLOP accounting of the selective scan, and an end-to-end run at a tiny size."""
import importlib
import json

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
