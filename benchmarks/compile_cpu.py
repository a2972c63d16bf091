"""Compiled vs eager CPU inference throughput, one model per family (a script, not a test).

    PYTHONPATH=. python benchmarks/compile_cpu.py --size 128 --batch 8          # small configs (tests' models)
    PYTHONPATH=. python benchmarks/compile_cpu.py --full --size 224 --batch 1   # the registered variants

Each model runs eagerly and through ``torch.compile(model, fullgraph=True)`` (Inductor by default) on the same
random batch; the script prints compile time, images/s for both and their ratio, and the max difference.
The scan stays one opaque operator call (numba on CPU) in the compiled graph, so the gain comes from the fused
projections, norms and layout ops around it.
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.export.families import FAMILIES, FAMILY_VARIANTS, build_small  # noqa: E402


def _throughput(fn, x, iters: int, warmup: int) -> float:
    for _ in range(warmup):
        fn(x)
    t0 = time.perf_counter()
    for _ in range(iters):
        fn(x)
    return iters * x.shape[0] / (time.perf_counter() - t0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--full", action="store_true", help="the registered variant, not the small test config")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--backend", default="inductor")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import timm
    print(f"torch {torch.__version__}, {args.threads} threads, backend {args.backend}, batch {args.batch}, "
          f"{args.size}x{args.size}")
    print("| model | compile s | eager img/s | compiled img/s | speed-up | max diff |")
    print("|---|---|---|---|---|---|")
    for family in args.families:
        if args.full:
            name = FAMILY_VARIANTS[family]
            extra = {"img_size": args.size} if family == "vim" else {}
            model = timm.create_model(name, pretrained=False, **extra)
        else:
            extra = {"img_size": args.size} if family == "vim" else {}
            model, _ = build_small(family, **extra)
            name = f"{FAMILY_VARIANTS[family]} (small)"
        model.eval()
        x = torch.randn(args.batch, 3, args.size, args.size)
        torch._dynamo.reset()
        with torch.no_grad():
            ref = model(x)
            compiled = torch.compile(model, fullgraph=True, backend=args.backend)
            t0 = time.perf_counter()
            out = compiled(x)
            compile_s = time.perf_counter() - t0
            eager = _throughput(model, x, args.iters, args.warmup)
            fast = _throughput(compiled, x, args.iters, args.warmup)
        diff = (out - ref).abs().max().item()
        print(f"| {name} | {compile_s:.0f} | {eager:.1f} | {fast:.1f} | {fast / eager:.2f}x | {diff:.1e} |",
              flush=True)


if __name__ == "__main__":
    main()
