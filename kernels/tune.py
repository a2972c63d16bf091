"""CUDA check for the Triton selective scan: correctness against ``ref``, then a tile-shape sweep with roofline.

Run on a GPU: ``python -m visionssm.kernels.tune`` (``--help`` for the options). Three parts, each optional:

- ``--check``: the Triton kernels on CUDA in float32 and bfloat16 against ``ref`` (float32 on the CPU, run on the
  same bf16-rounded inputs), outputs, last state and all eight gradients, as ‖got − ref‖ / ‖ref‖. Outputs are
  allocated from memory poisoned with NaN first, so an element the kernel never wrote fails the check.
- ``--sweep``: kernel time (CUDA graph replays, median) of forward and backward for each (BD, BL, num_warps) at
  the vision sizes, as a fraction of the bandwidth roofline (essential bytes / measured copy bandwidth).
- the measured device-to-device copy bandwidth, printed first; it is the roofline's ceiling.
"""
import argparse
import itertools
import json
import time
from typing import Dict, List, Optional

import torch

from visionssm.kernels import selective_scan, triton_scan
from visionssm.kernels.bench import bench_inputs, essential_bytes, make_inputs

GRADS = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def copy_bandwidth(device: torch.device, nbytes: int = 2 << 30) -> float:
    """Bytes read + written per second by a large device-to-device copy (the practical HBM ceiling)."""
    import triton.testing as tt

    src = torch.empty(nbytes // 4, device=device, dtype=torch.float32).normal_()
    dst = torch.empty_like(src)
    ms = tt.do_bench(lambda: dst.copy_(src), warmup=50, rep=300, return_mode="median")
    return 2 * nbytes / (ms * 1e-3)


def _poison(device: torch.device, nbytes: int = 4 << 30):
    """Fill the caching allocator's free blocks with NaN so unwritten outputs show up."""
    if device.type != "cuda":
        return
    torch.cuda.empty_cache()
    blob = torch.full((nbytes // 4,), float("nan"), device=device)
    del blob


def _run(inputs, backend, device, dtype, weights):
    leaves = {}
    for k, v in inputs.items():
        if v is None:
            leaves[k] = None
            continue
        v = v.to(device)
        if k in ("u", "delta", "B", "C", "z"):
            v = v.to(dtype)
        leaves[k] = v.detach().requires_grad_()
    out, last = selective_scan(*(leaves[k] for k in GRADS), delta_softplus=True, return_last_state=True,
                               backend=backend, out_dtype=torch.float32 if dtype != torch.float32 else None)
    w_out, w_last = weights
    ((out.float() * w_out.to(device)).sum() + (last * w_last.to(device)).sum()).backward()
    res = {"out": out.detach().float().cpu(), "last_state": last.detach().float().cpu()}
    for k in GRADS:
        if leaves[k] is not None and leaves[k].grad is not None:
            res["grad_" + k] = leaves[k].grad.float().cpu()
    return res


CHECK_CASES = [  # batch, dim, length, state, groups, z, C
    (2, 384, 3136, 1, 4, False, True), (2, 384, 3136, 16, 4, False, True), (1, 192, 784, 16, 4, True, True),
    (2, 64, 1000, 1, None, True, True), (1, 48, 333, 4, 2, True, True), (1, 24, 1, 16, 4, False, True),
    (1, 96, 257, 16, None, False, False), (3, 40, 130, 3, 2, True, True),
]


def check(device: torch.device, tol: Dict[torch.dtype, float], atol: Dict[torch.dtype, float],
          cases=None) -> List[dict]:
    rows = []
    for (batch, dim, length, state, groups, with_z, with_c), dtype in itertools.product(cases or CHECK_CASES, tol):
        inputs = make_inputs(batch, dim, length, state, groups, with_z=with_z, with_C=with_c, seed=len(rows),
                             A_init="lognormal")
        # the reference sees exactly the (possibly bf16-rounded) values the kernel sees
        ref_in = {k: (v.to(dtype).float() if (v is not None and k in ("u", "delta", "B", "C", "z")) else v)
                  for k, v in inputs.items()}
        out_shape = (batch, dim, state, length) if not with_c else (batch, dim, length)
        g = torch.Generator().manual_seed(99)
        weights = (torch.randn(out_shape, generator=g), torch.randn(batch, dim, state, generator=g))
        want = _run(ref_in, "ref", torch.device("cpu"), torch.float32, weights)
        _poison(device)
        got = _run(inputs, "triton", device, dtype, weights)
        with torch.no_grad():  # inference tiles (no backward follows) may differ from training tiles
            _poison(device)
            args = [(v.to(device).to(dtype) if k in ("u", "delta", "B", "C", "z") else v.to(device))
                    if v is not None else None for k, v in inputs.items()]
            out_nograd, last_nograd = selective_scan(*args, delta_softplus=True, return_last_state=True,
                                                     backend="triton",
                                                     out_dtype=torch.float32 if dtype != torch.float32 else None)
        got["out_no_grad"], want["out_no_grad"] = out_nograd.float().cpu(), want["out"]
        got["last_no_grad"], want["last_no_grad"] = last_nograd.float().cpu(), want["last_state"]
        # relative error, with an absolute floor for gradients that are exactly zero (dA at L = 1)
        errs = {k: float((got[k] - want[k]).norm() / (want[k].norm() + atol[dtype] * want[k].numel() ** 0.5))
                for k in want}
        finite = all(bool(torch.isfinite(got[k]).all()) for k in got)
        worst = max(errs.values())
        ok = finite and worst <= tol[dtype]
        rows.append(dict(case=(batch, dim, length, state, groups, with_z, with_c), dtype=str(dtype), ok=ok,
                         finite=finite, worst=worst, errs=errs))
        print(f"{'ok ' if ok else 'BAD'} {str(dtype):>14} b{batch} D{dim} L{length} N{state} G{groups} z={with_z} "
              f"C={with_c}: worst ‖err‖ / (‖ref‖ + atol·√n) {worst:.2e} ({max(errs, key=errs.get)})", flush=True)
    return rows


def check_fixtures(device: torch.device, folder: str) -> List[dict]:
    """The official mamba reference outputs (``shared/fixtures/selective_scan_ref``) reproduced on CUDA."""
    from pathlib import Path

    rows = []
    for path in sorted(Path(folder).glob("case_*.pt")):
        data = torch.load(path, weights_only=True)
        leaves = {k: (v.to(device).requires_grad_() if v is not None else None) for k, v in data["inputs"].items()}
        out, last = selective_scan(*(leaves[k] for k in GRADS), delta_softplus=data["delta_softplus"],
                                   return_last_state=True, backend="triton")
        errs = {"out": float((out.detach().cpu() - data["out"]).abs().max()),
                "last_state": float((last.detach().cpu() - data["last_state"]).abs().max())}
        if "grads_of_out_sum" in data:
            out.sum().backward()
            for k, want in data["grads_of_out_sum"].items():
                if want is not None:
                    errs["grad_" + k] = float((leaves[k].grad.cpu() - want).abs().max())
        worst = max(errs.values())
        rows.append(dict(case=path.stem, worst_abs=worst, errs=errs, ok=worst <= 1e-3))
        print(f"{'ok ' if worst <= 1e-3 else 'BAD'} official fixture {path.stem}: max abs err {worst:.2e} "
              f"({max(errs, key=errs.get)})", flush=True)
    return rows


def time_config(case, mode, tiles, device):
    import triton.testing as tt

    triton_scan.TILE_OVERRIDES.clear()
    triton_scan.TILE_OVERRIDES.update({"fwd": tiles, "bwd": tiles})
    args = (case["u"], case["delta"], case["A"], case["B"], case["C"], case["D"], None, case["delta_bias"], True,
            case["u"].dtype)
    with torch.no_grad():
        out, last, saved, geo = triton_scan.scan_forward(*args)
        if mode == "fwd":
            fn = lambda: triton_scan.scan_forward(*args)  # noqa: E731
        else:
            dout = torch.randn_like(out)
            fn = lambda: triton_scan.scan_backward(saved, geo, True, dout, None)  # noqa: E731
        fn()
        torch.cuda.synchronize()
        ms = tt.do_bench_cudagraph(fn, rep=50, return_mode="median")
    triton_scan.TILE_OVERRIDES.clear()
    return ms


def sweep(device, sizes, states, modes, bw, out_rows: Optional[list] = None, configs=None, prefetch_ab=False):
    results = []
    for (batch, dim, length), state, mode in itertools.product(sizes, states, modes):
        case = bench_inputs(batch, dim, length, state, 4, torch.float32, device)
        nbytes = essential_bytes(batch, dim, length, state, 4, mode)
        floor_us = nbytes / bw * 1e6
        heur = triton_scan._cuda_tiles(batch, dim, length, triton_scan._pow2(state), dim // 4,
                                       training=(mode == "bwd"))[mode]
        grid = list(configs if configs is not None else _default_configs(state, mode))
        if tuple(heur) not in grid:
            grid.append(tuple(heur))
        best = None
        variants = [(t, pf) for t in grid for pf in ((False, True) if (prefetch_ab and mode == "fwd") else (True,))]
        for tiles, prefetch in variants:
            bd, bl, warps = tiles[:3]
            triton_scan.FWD_PREFETCH = prefetch
            try:
                ms = time_config(case, mode, tuple(tiles), device)
            except Exception as exc:  # a config the compiler refuses (registers, shared memory) is skipped
                print(f"  skip BD{bd} BL{bl} w{warps}: {type(exc).__name__}: {str(exc)[:120]}", flush=True)
                continue
            frac = floor_us / (ms * 1e3)
            row = dict(batch=batch, dim=dim, length=length, state=state, mode=mode, bd=bd, bl=bl, warps=warps,
                       stages=tiles[3] if len(tiles) > 3 else None, prefetch=prefetch, us=ms * 1e3, floor_us=floor_us,
                       roofline=frac)
            results.append(row)
            print(f"  b{batch} D{dim} L{length} N{state} {mode:>3} BD{bd} BL{bl} w{warps} s{row['stages']} "
                  f"prefetch={int(prefetch)}: "
                  f"{ms * 1e3:.1f} us "
                  f"({frac:.0%})", flush=True)
            if best is None or ms < best["us"] / 1e3:
                best = row
        if best:
            print(f"b{batch} D{dim} L{length} N{state} {mode:>3}: best BD{best['bd']} BL{best['bl']} w{best['warps']} "
                  f"{best['us']:.1f} us, floor {floor_us:.1f} us -> {best['roofline']:.0%} of roofline", flush=True)
        hrow = [r for r in results if r["batch"] == batch and r["dim"] == dim and r["length"] == length
                and r["state"] == state and r["mode"] == mode and (r["bd"], r["bl"], r["warps"]) == tuple(heur)[:3]
                and r["prefetch"]]
        if hrow:
            print(f"    default tiles BD{heur[0]} BL{heur[1]} w{heur[2]}: {hrow[0]['us']:.1f} us "
                  f"({hrow[0]['roofline']:.0%})", flush=True)
    if out_rows is not None:
        out_rows.extend(results)
    return results


def _default_configs(state, mode):
    np_ = triton_scan._pow2(state)
    if np_ == 1:
        bds, bls = (1, 2, 4, 8, 16), (64, 128, 256, 512, 1024)
    else:
        bds, bls = (1, 2, 4), (16, 32, 64, 128)
    out = []
    for bd, bl, warps in itertools.product(bds, bls, (2, 4, 8)):
        tile = bd * np_ * bl
        if 256 <= tile <= 8192 and warps * 32 <= max(64, tile):
            out.append((bd, bl, warps))
    return out


def profile_op(device: torch.device, size=(2, 384, 3136), state: int = 1):
    """Where an autograd fwd+bwd call spends its time: host time per call, then the profiler's op table."""
    from torch.profiler import ProfilerActivity, profile

    batch, dim, length = size
    case = bench_inputs(batch, dim, length, state, 4, torch.float32, device)

    def step():
        leaves = {k: v.detach().requires_grad_() for k, v in case.items()}
        out = selective_scan(leaves["u"], leaves["delta"], leaves["A"], leaves["B"], leaves["C"], leaves["D"], None,
                             leaves["delta_bias"], True, backend="triton", check_finite=False)
        out.backward(torch.ones_like(out))

    for _ in range(5):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(20):
        step()
    host = (time.perf_counter() - t0) / 20
    torch.cuda.synchronize()
    wall = (time.perf_counter() - t0) / 20
    print(f"fwd+bwd b{batch} D{dim} L{length} N{state}: host {host * 1e6:.0f} us/call, wall {wall * 1e6:.0f} us/call")
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(5):
            step()
        torch.cuda.synchronize()
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=18, max_name_column_width=50))


def main(argv: Optional[List[str]] = None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="correctness on CUDA (float32 and bfloat16) against ref")
    p.add_argument("--sweep", action="store_true", help="tile-shape sweep with roofline fractions")
    p.add_argument("--sizes", nargs="+", default=["2x384x3136", "8x384x3136", "8x768x3136", "8x768x784"],
                   help="batch x D x L")
    p.add_argument("--states", type=int, nargs="+", default=[1, 16])
    p.add_argument("--modes", nargs="+", default=["fwd", "bwd"], choices=["fwd", "bwd"])
    p.add_argument("--configs", nargs="*", default=None, help="BDxBLxWARPS[xSTAGES] tiles to time (default: a grid; none: the default tiles only)")
    p.add_argument("--prefetch-ab", action="store_true", help="time the forward with and without next-tile prefetch")
    p.add_argument("--fixtures", default=None, help="folder of the official selective_scan_ref fixtures")
    p.add_argument("--profile", action="store_true", help="host vs device time of one autograd fwd+bwd call")
    p.add_argument("--json", default=None, help="write all rows here")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("kernels/tune.py needs a CUDA device.")
    device = torch.device("cuda")
    print(f"{torch.cuda.get_device_name(device)}; torch {torch.__version__}", flush=True)
    bw = copy_bandwidth(device)
    print(f"measured copy bandwidth: {bw / 1e12:.2f} TB/s (read + write)", flush=True)
    report: Dict[str, object] = {"device": torch.cuda.get_device_name(device), "copy_bw": bw}
    t0 = time.time()
    if args.check:
        rows = check(device, {torch.float32: 1e-4, torch.bfloat16: 2e-2}, {torch.float32: 1e-5, torch.bfloat16: 1e-4})
        report["check"] = rows
        print(f"check: {sum(r['ok'] for r in rows)}/{len(rows)} ok ({time.time() - t0:.0f} s)", flush=True)
    if args.profile:
        profile_op(device)
    if args.fixtures:
        report["fixtures"] = check_fixtures(device, args.fixtures)
    if args.sweep:
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes]
        configs = [tuple(int(v) for v in c.split("x")) for c in args.configs] if args.configs is not None else None
        report["sweep"] = sweep(device, sizes, args.states, args.modes, bw, configs=configs,
                                prefetch_ab=args.prefetch_ab)
        triton_scan.FWD_PREFETCH = True
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, default=str)


if __name__ == "__main__":
    main()
