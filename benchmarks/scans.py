#!/usr/bin/env python
"""One table for every scan strategy on the same layer (``visionssm.layers.ss2d.SS2D``).

For each strategy × dim × H×W × d_state: parameters of the layer, FLOPs, forward and forward+backward
latency (median of ``--repeat`` runs after ``--warmup``) on CPU, and on CUDA when available.

FLOPs follow VMamba's convention: multiply-accumulates of the matmuls and convolutions (fvcore counts one
MAC as one FLOP) plus 9·B·L·D·N (+ B·D·L for D) per selective scan (``selective_scan_flops``), counted from
the scan calls the layer actually makes (so multi-pass and multi-resolution strategies are counted as run).

Examples:
    python benchmarks/scans.py                                   # full grid (slow on CPU)
    python benchmarks/scans.py --sizes 28 14 --dims 96 --repeat 3 --device cpu
"""
import argparse
import statistics
import sys
import time
from typing import Dict, List

import torch

from visionssm.layers.ss2d import SS2D
from visionssm.scans import list_scans


def layer_scans() -> List[str]:
    """Every registered strategy (all plug into SS2D)."""
    return list_scans()


def build_layer(name: str, dim: int, d_state: int, ssm_ratio: float, backend: str) -> SS2D:
    return SS2D(dim, scan=name, d_state=d_state, ssm_ratio=ssm_ratio, channels_first=True, backend=backend)


def count_flops(layer: SS2D, x: torch.Tensor) -> int:
    """Forward FLOPs by the project's one counter (``visionssm.benchmark``): MACs + VMamba's scan rule."""
    from visionssm.benchmark import count_forward_flops
    return count_forward_flops(layer, x).flops


def timed(fn, device: torch.device, warmup: int, repeat: int) -> float:
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def run(args) -> List[Dict]:
    devices = [torch.device(d) for d in args.device]
    names = args.scans or layer_scans()
    rows = []
    for dev in devices:
        for dim in args.dims:
            for size in args.sizes:
                for d_state in args.states:
                    for name in names:
                        torch.manual_seed(0)
                        layer = build_layer(name, dim, d_state, args.ssm_ratio, args.backend).to(dev)
                        x = torch.randn(args.batch, dim, size, size, device=dev)
                        xg = x.clone().requires_grad_(True)

                        def forward(layer=layer, x=x):
                            with torch.no_grad():
                                layer(x)

                        def forward_backward(layer=layer, xg=xg):
                            layer(xg).sum().backward()

                        row = {"device": dev.type, "scan": name, "K": layer.num_directions, "dim": dim, "size": size,
                               "N": d_state, "params": sum(p.numel() for p in layer.parameters()),
                               "flops": count_flops(layer, x),
                               "fwd": timed(forward, dev, args.warmup, args.repeat),
                               "fwdbwd": timed(forward_backward, dev, args.warmup, args.repeat)}
                        rows.append(row)
                        if args.progress:
                            print(f"  {row}", file=sys.stderr, flush=True)
    return rows


def to_markdown(rows: List[Dict], batch: int) -> str:
    lines = [f"| device | scan | K | dim | H×W | d_state | params (k) | GFLOPs (B={batch}) | fwd ms | fwd+bwd ms |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['device']} | {r['scan']} | {r['K']} | {r['dim']} | {r['size']}×{r['size']} | {r['N']} | "
                     f"{r['params'] / 1e3:.1f} | {r['flops'] / 1e9:.3f} | {r['fwd']:.1f} | {r['fwdbwd']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Benchmark every scan strategy on the same SS2D layer and print "
                                                 "one markdown table (params, FLOPs, latency).")
    parser.add_argument("--scans", nargs="+", default=None, help="strategy names (default: all SS2D accepts)")
    parser.add_argument("--dims", nargs="+", type=int, default=[96, 192])
    parser.add_argument("--sizes", nargs="+", type=int, default=[56, 28], help="square map sizes H=W")
    parser.add_argument("--states", nargs="+", type=int, default=[1, 16], help="d_state values")
    parser.add_argument("--ssm-ratio", type=float, default=2.0, help="d_inner = ssm_ratio · dim (VMamba: 2.0)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--backend", default="auto", help="selective-scan backend (auto, ref, torch, numba, triton)")
    parser.add_argument("--device", nargs="+", default=None,
                        help="devices to run on (default: cpu, plus cuda when available)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--progress", action="store_true", help="print each row to stderr as it finishes")
    args = parser.parse_args(argv)
    if args.device is None:
        args.device = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = run(args)
    print(f"# torch {torch.__version__}, CPU threads {torch.get_num_threads()}, backend {args.backend!r}, "
          f"batch {args.batch}, ssm_ratio {args.ssm_ratio}, median of {args.repeat} after {args.warmup} warm-up")
    print(to_markdown(rows, args.batch))


if __name__ == "__main__":
    main()
