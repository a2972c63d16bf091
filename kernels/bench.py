"""Selective-scan benchmark at vision sizes: median time per backend, speed ratios and (on CUDA) roofline.

Run ``python -m visionssm.kernels.bench`` (or ``python kernels/bench.py``); ``--help`` lists the options.
A script, not a test: numbers depend on the machine and its load, so it prints them with the settings used.
On a shared CPU prefer ``--threads 1`` (CPU time, the default timer on CPU, is then robust to other
processes); ``--baseline old_torch_scan.py`` times another version of the torch path in the same process.
"""
import argparse
import importlib.util
import statistics
import time
from typing import Callable, Dict, List, Optional

import torch

from visionssm.kernels.selective_scan import available_backends, selective_scan

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _sync(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_median(fn: Callable[[], None], device: torch.device, repeats: int, warmup: int,
                timer: Callable[[], float] = time.perf_counter) -> float:
    """Median time (seconds, by ``timer``) of ``fn`` over ``repeats`` runs after ``warmup`` runs.

    On CUDA: the median of CUDA-event timings (``triton.testing.do_bench``) of the whole call, launches included.
    """
    if device.type == "cuda":
        import triton.testing as tt

        return tt.do_bench(fn, warmup=25, rep=max(100, repeats), return_mode="median") * 1e-3
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = timer()
        fn()
        _sync(device)
        times.append(timer() - t0)
    return statistics.median(times)


def load_baseline(path: str) -> Callable:
    """``selective_scan_torch`` of another torch_scan.py (e.g. ``git show REV:kernels/torch_scan.py``)."""
    # a module of this package, so the copy's relative imports (``from ._common import ...``) resolve
    spec = importlib.util.spec_from_file_location(f"{__package__ or 'visionssm.kernels'}._bench_baseline", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"--baseline: cannot load {path!r}; pass a copy of kernels/torch_scan.py.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.selective_scan_torch


def make_inputs(batch: int, dim: int, length: int, state: int, groups: Optional[int] = None, *, with_D: bool = True,
                with_z: bool = True, with_bias: bool = True, with_C: bool = True, dtype=torch.float32,
                device="cpu", non_contiguous: bool = False, seed: int = 0,
                A_init: str = "uniform") -> Dict[str, Optional[torch.Tensor]]:
    """Random scan inputs in ``selective_scan``'s argument order (u, delta, A, B, C, D, z, delta_bias).

    ``groups=None`` gives ungrouped (batch, N, L) B/C, else (batch, groups, N, L) (VMamba: K = 4 directions).
    ``A_init``: "uniform" A in [-1.5, -0.5) (the tests'), "lognormal" -exp(N(0, 0.5²)) (spread-out decays as
    trained VMamba models have; the benchmarks'). ``non_contiguous``: channel-last u/Δ and strided B/C, as
    projections produce them. u, Δ, B, C, z are in ``dtype``; A, D and the Δ bias stay float32.
    """
    if A_init not in ("uniform", "lognormal"):
        raise ValueError(f"make_inputs: A_init={A_init!r}; choose 'uniform' or 'lognormal'.")
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=1.0):
        return torch.randn(*shape, generator=g) * scale

    bc_shape = (batch, state, length) if groups is None else (batch, groups, state, length)
    if non_contiguous:
        u = rnd(batch, length, dim).transpose(1, 2)
        delta = rnd(batch, length, dim, scale=0.5).transpose(1, 2)
        B = rnd(*bc_shape[:-1], 2 * length)[..., ::2]
        C = rnd(*bc_shape[:-1], 2 * length)[..., ::2]
    else:
        u, delta = rnd(batch, dim, length), rnd(batch, dim, length, scale=0.5)
        B, C = rnd(*bc_shape), rnd(*bc_shape)
    A = -(torch.rand(dim, state, generator=g) + 0.5) if A_init == "uniform" else -torch.exp(rnd(dim, state, scale=0.5))
    inputs = dict(u=u.to(dtype), delta=delta.to(dtype), A=A, B=B.to(dtype), C=C.to(dtype) if with_C else None,
                  D=rnd(dim) if with_D else None, z=rnd(batch, dim, length).to(dtype) if with_z else None,
                  delta_bias=rnd(dim, scale=0.5) if with_bias else None)
    return {k: (v.to(device) if v is not None else None) for k, v in inputs.items()}


def bench_inputs(batch: int, dim: int, length: int, state: int, groups: int, dtype: torch.dtype,
                 device) -> Dict[str, Optional[torch.Tensor]]:
    """The benchmarks' case: grouped B/C, softplus Δ with bias, D, no z, spread-out decays."""
    return make_inputs(batch, dim, length, state, groups, with_z=False, dtype=dtype, device=device,
                       A_init="lognormal")


def run_once(case: Dict[str, torch.Tensor], backend: str, backward: bool, out_dtype: Optional[torch.dtype],
             baseline: Optional[Callable] = None):
    leaves = {k: (v.detach().requires_grad_(backward) if v is not None else None) for k, v in case.items()}
    args = (*leaves.values(), True)
    with torch.set_grad_enabled(backward):
        if backend == "baseline":
            out = baseline(*args, out_dtype=out_dtype)
        else:
            out = selective_scan(*args, out_dtype=out_dtype, backend=backend, check_finite=False)
        if backward:
            out.backward(torch.ones_like(out))


def essential_bytes(batch: int, dim: int, length: int, state: int, groups: int, mode: str, in_bytes: int = 4,
                    out_bytes: Optional[int] = None) -> int:
    """Bytes one scan must move through memory at least: the numerator of the bandwidth roofline.

    ``mode="fwd"``: read u, Δ and the G-group B, C (``in_bytes`` each), write y (``out_bytes``, default
    ``in_bytes``). ``"bwd"`` (the backward kernel alone): read u, Δ, B, C and dy (``out_bytes``), write du, dΔ
    (``in_bytes``) and dB, dC (float32). ``"fwd+bwd"``: their sum. Not counted: A, D, the Δ bias (O(D·N), not
    O(L)), z (absent in the benchmarks) and the forward's state checkpoints (one state per tile of tokens).
    """
    out_bytes = in_bytes if out_bytes is None else out_bytes
    elems = batch * dim * length
    bc = batch * groups * state * length
    fwd = elems * (2 * in_bytes + out_bytes) + 2 * bc * in_bytes
    bwd = elems * (2 * in_bytes + out_bytes + 2 * in_bytes) + 2 * bc * (in_bytes + 4)
    if mode not in ("fwd", "bwd", "fwd+bwd"):
        raise ValueError(f"essential_bytes: mode={mode!r}; choose 'fwd', 'bwd' or 'fwd+bwd'.")
    return {"fwd": fwd, "bwd": bwd, "fwd+bwd": fwd + bwd}[mode]


def main(argv: Optional[List[str]] = None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, nargs="+", default=[2], help="batch sizes (vision: 2-8)")
    p.add_argument("--dims", type=int, nargs="+", default=[384, 768], help="scan channels D = K·d_inner (4×96, 4×192)")
    p.add_argument("--lengths", type=int, nargs="+", default=[3136, 784], help="tokens L (56×56, 28×28)")
    p.add_argument("--states", type=int, nargs="+", default=[1, 16], help="state sizes N")
    p.add_argument("--groups", type=int, default=4, help="B/C groups (VMamba: K = 4 directions)")
    p.add_argument("--backends", nargs="+", default=None, help="default: every backend available on the device")
    p.add_argument("--modes", nargs="+", default=["fwd", "fwd+bwd"], choices=["fwd", "fwd+bwd"])
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPES), help="dtype of u, Δ, B, C")
    p.add_argument("--out-dtype", default=None, choices=sorted(DTYPES), help="output dtype (default: input dtype)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument("--timer", default="auto", choices=["auto", "cpu", "wall"],
                   help="cpu: time.process_time (robust on a loaded machine with --threads 1); auto: cpu on CPU, "
                        "wall on CUDA")
    p.add_argument("--baseline", default=None,
                   help="another torch_scan.py to time as backend 'baseline' in the same process")
    p.add_argument("--ref-max-len", type=int, default=392,
                   help="time `ref` (a Python loop over tokens, linear in L) at this length and scale by L / len; "
                        "0 times it at full length")
    p.add_argument("--ref-repeats", type=int, default=1)
    p.add_argument("--peak-bw", type=float, default=3.35e12, help="peak memory bandwidth in B/s (H100 SXM: 3.35e12)")
    args = p.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    out_dtype = DTYPES[args.out_dtype] if args.out_dtype else None
    backends = args.backends or list(available_backends(device))
    baseline = load_baseline(args.baseline) if args.baseline else None
    if baseline is not None and "baseline" not in backends:
        backends.append("baseline")
    use_cpu_timer = args.timer == "cpu" or (args.timer == "auto" and device.type == "cpu")
    timer = time.process_time if use_cpu_timer else time.perf_counter
    in_bytes = torch.finfo(dtype).bits // 8
    out_bytes = torch.finfo(out_dtype or dtype).bits // 8
    print(f"device={device} threads={torch.get_num_threads()} dtype={args.dtype} out_dtype={args.out_dtype or args.dtype} "
          f"groups={args.groups} softplus+D+bias, no z; median {'CPU' if use_cpu_timer else 'wall'} time of "
          f"{args.repeats} (warmup {args.warmup}); "
          f"ref: {'full length' if args.ref_max_len == 0 else f'timed at L<={args.ref_max_len}, scaled linearly in L'}")
    if device.type == "cuda":
        print(f"roofline: essential HBM bytes / peak {args.peak_bw:.3g} B/s (fwd: u, Δ, B, C in, y out; bwd adds dy in, "
              "du, dΔ out and float32 dB, dC; A, D, bias, checkpoints ignored)")
    header = f"{'batch':>5} {'D':>5} {'L':>5} {'N':>3} {'mode':>8} " + " ".join(f"{b + ' ms':>12}" for b in backends)
    header += "  ratios"
    print(header)
    for batch in args.batch:
        for dim in args.dims:
            for length in args.lengths:
                for state in args.states:
                    for mode in args.modes:
                        backward = mode == "fwd+bwd"
                        times = {}
                        for backend in backends:
                            scale, L_run, rep = 1.0, length, args.repeats
                            if backend == "ref" and args.ref_max_len and length > args.ref_max_len:
                                L_run, rep = args.ref_max_len, args.ref_repeats
                                scale = length / L_run
                            elif backend == "ref":
                                rep = args.ref_repeats
                            case = bench_inputs(batch, dim, L_run, state, args.groups, dtype, device)
                            t = time_median(lambda c=case, b=backend, bw=backward: run_once(c, b, bw, out_dtype, baseline),
                                            device, rep, args.warmup if backend != "ref" else 0, timer)
                            times[backend] = (t * scale, scale != 1.0)
                        cells = " ".join(f"{t * 1e3:>11.2f}{'*' if ext else ' '}" for t, ext in times.values())
                        ratios = []
                        if "ref" in times and "torch" in times:
                            ratios.append(f"ref/torch={times['ref'][0] / times['torch'][0]:.1f}x")
                        if "ref" in times and "numba" in times:
                            ratios.append(f"ref/numba={times['ref'][0] / times['numba'][0]:.1f}x")
                        if "numba" in times and "torch" in times:
                            ratios.append(f"torch/numba={times['torch'][0] / times['numba'][0]:.1f}x")
                        if "baseline" in times and "torch" in times:
                            ratios.append(f"baseline/torch={times['baseline'][0] / times['torch'][0]:.2f}x")
                        if "triton" in times and "torch" in times:
                            ratios.append(f"torch/triton={times['torch'][0] / times['triton'][0]:.1f}x")
                        if "triton" in times and device.type == "cuda":
                            nbytes = essential_bytes(batch, dim, length, state, args.groups, mode, in_bytes, out_bytes)
                            ratios.append(f"triton={nbytes / args.peak_bw / times['triton'][0]:.0%} of roofline "
                                          f"({nbytes / 1e6:.1f} MB)")
                        print(f"{batch:>5} {dim:>5} {length:>5} {state:>3} {mode:>8} {cells}  {' '.join(ratios)}",
                              flush=True)
    print("* = extrapolated from a shorter sequence (see --ref-max-len)")


if __name__ == "__main__":
    main()
