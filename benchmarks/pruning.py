"""Token pruning on real data: dense vs naive (EViT gather) vs aligned (Δ = 0) PlainMamba on scikit-learn's digits.

A small PlainMamba (8×8 tokens) is trained densely, then each pruning setting is evaluated zero-shot (the dense
weights) and after a short fine-tune with pruning on; FLOPs come from ``visionssm.benchmark.count_flops`` and CPU
throughput from timed eval forwards. Writes ``benchmarks/PRUNING.md`` (table) and ``benchmarks/pruning.json``.

    PYTHONPATH=. python benchmarks/pruning.py            # ~20 min on one share of 2 busy cores
    PYTHONPATH=. python benchmarks/pruning.py --quick    # smoke run (a few epochs)
"""
import argparse
import copy
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

import visionssm  # noqa: F401  (registers the models)
from visionssm.benchmark import count_flops
from visionssm.data.digits import stratified_split
from visionssm.models.plainmamba import PlainMamba

HERE = Path(__file__).resolve().parent
IMG = 32
MODEL_KW = dict(img_size=IMG, patch_size=4, in_chans=1, num_classes=10, embed_dim=32, depth=4,
                num_convs_patch_embed=0, layers_with_dwconv=(), d_state=4)


def load_data(seed: int = 0):
    """Digits (1797 8×8 images), the quickstart's stratified 80/20 split, upsampled to 32×32, standardised."""
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(IMG, IMG), mode="bilinear", align_corners=False)
    x = (x - x.mean()) / x.std()
    y = torch.tensor(d.target, dtype=torch.long)
    train, val = stratified_split(d.target, 0.2, seed)
    return (x[train], y[train]), (x[val], y[val])


def augment(x: torch.Tensor, gen: torch.Generator, shift: int = 3) -> torch.Tensor:
    """Random translation by up to ``shift`` pixels (one crop per image from a zero-padded copy)."""
    B, _, H, W = x.shape
    pad = F.pad(x, (shift, shift, shift, shift), value=float(x.min()))
    dy = torch.randint(0, 2 * shift + 1, (B,), generator=gen)
    dx = torch.randint(0, 2 * shift + 1, (B,), generator=gen)
    rows = (dy[:, None] + torch.arange(H)[None])[:, None, :, None].expand(B, 1, H, W + 2 * shift)
    out = torch.gather(pad, 2, rows)
    cols = (dx[:, None] + torch.arange(W)[None])[:, None, None, :].expand(B, 1, H, W)
    return torch.gather(out, 3, cols)


def train(model: PlainMamba, data, epochs: int, lr: float, seed: int, batch: int = 128) -> None:
    (x, y), _ = data
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(augment(x[idx], gen)), y[idx], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()


@torch.no_grad()
def accuracy(model: PlainMamba, data) -> float:
    _, (x, y) = data
    model.eval()
    correct = sum(int((model(x[i:i + 256]).argmax(1) == y[i:i + 256]).sum()) for i in range(0, len(x), 256))
    return 100.0 * correct / len(x)


@torch.no_grad()
def throughput(model: PlainMamba, batch: int = 128, repeats: int = 7) -> float:
    """Images/s of eval forwards on a fixed batch (median of ``repeats`` after two warm-ups)."""
    x = torch.randn(batch, 1, IMG, IMG)
    model.eval()
    for _ in range(2):
        model(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t)
    return batch / statistics.median(times)


def speed(model_kw: Dict, size: int, layers: tuple, ratio: float, batch: int, rounds: int) -> List[Dict]:
    """Interleaved timing (dense, naive, aligned compact, aligned in place; one forward of each per round, median over
    rounds) so that a shared machine's load hits every setting alike. Random weights: speed does not depend on them."""
    torch.manual_seed(0)
    base = PlainMamba(**model_kw).eval()
    cfgs = [("dense", None), ("naive", dict(layers=layers, keep_ratio=ratio, method="naive")),
            ("aligned (compact)", dict(layers=layers, keep_ratio=ratio)),
            ("aligned (in place)", dict(layers=layers, keep_ratio=ratio, compact=False))]
    models = []
    for _, cfg in cfgs:
        m = copy.deepcopy(base)
        m.set_pruning(cfg)
        models.append(m)
    x = torch.randn(batch, model_kw.get("in_chans", 3), size, size)
    times: List[List[float]] = [[] for _ in cfgs]
    with torch.no_grad():
        for m in models:
            m(x)
        for _ in range(rounds):
            for i, m in enumerate(models):
                t = time.perf_counter()
                m(x)
                times[i].append(time.perf_counter() - t)
    out = []
    for (name, _cfg), m, ts in zip(cfgs, models, times):
        out.append({"setting": name, "flops": count_flops(m, (x.shape[1], size, size)).flops,
                    "img_per_s": batch / statistics.median(ts)})
    return out


def settings(ratios: List[float], layers: tuple) -> List[Dict]:
    out = [{"name": "dense", "pruning": None}]
    for r in ratios:
        out.append({"name": f"naive r={r}", "pruning": dict(layers=layers, keep_ratio=r, method="naive")})
        out.append({"name": f"aligned r={r}", "pruning": dict(layers=layers, keep_ratio=r, method="aligned")})
    return out


def run(args) -> Dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    data = load_data(args.seed)
    dense = PlainMamba(**MODEL_KW)
    t0 = time.time()
    train(dense, data, args.epochs, args.lr, args.seed)
    log = {"dense_train_s": time.time() - t0}
    dense_flops = count_flops(dense, (1, IMG, IMG)).flops
    rows = []
    for s in settings(args.ratios, tuple(args.layers)):
        model = copy.deepcopy(dense)
        model.set_pruning(s["pruning"])
        row = {"setting": s["name"], "pruning": s["pruning"]}
        row["flops"] = count_flops(model, (1, IMG, IMG)).flops
        row["flops_saved_pct"] = 100.0 * (1 - row["flops"] / dense_flops)
        row["zero_shot"] = accuracy(model, data)
        if s["pruning"] is None:
            row["fine_tuned"] = row["zero_shot"]
        else:
            torch.manual_seed(args.seed + 1)
            train(model, data, args.ft_epochs, args.ft_lr, args.seed + 1)
            row["fine_tuned"] = accuracy(model, data)
        row["img_per_s"] = throughput(model)
        rows.append(row)
        print(f"{row['setting']:>16}: {row['flops'] / 1e6:6.2f} MFLOPs ({row['flops_saved_pct']:4.1f}% saved)  "
              f"zero-shot {row['zero_shot']:5.2f}  fine-tuned {row['fine_tuned']:5.2f}  {row['img_per_s']:7.1f} img/s",
              flush=True)
    # score ablation: zero-shot aligned pruning at the smallest keep ratio with each score
    ablation = []
    for score in ("clipped", "unclipped", "l1", "l2"):
        model = copy.deepcopy(dense)
        model.set_pruning(dict(layers=tuple(args.layers), keep_ratio=min(args.ratios), score=score))
        ablation.append({"score": score, "zero_shot": accuracy(model, data)})
    # aligned in place (no compaction) for the speed comparison
    model = copy.deepcopy(dense)
    model.set_pruning(dict(layers=tuple(args.layers), keep_ratio=min(args.ratios), compact=False))
    inplace = {"keep_ratio": min(args.ratios), "img_per_s": throughput(model),
               "flops": count_flops(model, (1, IMG, IMG)).flops}
    return {"settings": vars(args), "model": {k: (list(v) if isinstance(v, tuple) else v) for k, v in MODEL_KW.items()},
            "environment": {"torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
                            "threads": args.threads}, "dense_flops": dense_flops, "rows": rows,
            "score_ablation": ablation, "aligned_in_place": inplace, **log}


def markdown(res: Dict) -> str:
    s = res["settings"]
    dense = res["rows"][0]
    lines = [
        "# Token pruning: dense vs naive vs aligned (measured)",
        "",
        "Generated by `PYTHONPATH=. python benchmarks/pruning.py` "
        f"(epochs {s['epochs']}, fine-tune {s['ft_epochs']}, seed {s['seed']}, {s['threads']} CPU thread(s), "
        f"torch {res['environment']['torch']}).",
        "",
        f"Data: scikit-learn's handwritten digits (1437 train / 360 val, the quickstart's split), upsampled to "
        f"{IMG}×{IMG}. Model: PlainMamba, width {MODEL_KW['embed_dim']}, {MODEL_KW['depth']} layers, d_state "
        f"{MODEL_KW['d_state']}, /4 stem → 8×8 = 64 tokens, snake scans. Pruning after blocks {s['layers']} "
        "(each keeps the given ratio of the tokens left), clipped score. FLOPs: `visionssm.benchmark.count_flops` "
        "(one multiply-add = 1 FLOP; scan 9·B·L·D·N). Throughput: eval forwards, batch 128, median of 7.",
        "",
        "| Setting | MFLOPs | FLOPs saved | Top-1 zero-shot | Top-1 fine-tuned | CPU img/s | Speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(f"| {r['setting']} | {r['flops'] / 1e6:.2f} | {r['flops_saved_pct']:.1f}% | {r['zero_shot']:.2f} | "
                     f"{r['fine_tuned']:.2f} | {r['img_per_s']:.0f} | {r['img_per_s'] / dense['img_per_s']:.2f}× |")
    ip = res["aligned_in_place"]
    lines += [
        "",
        f"Aligned without compaction (masking in place, r={ip['keep_ratio']}): {ip['flops'] / 1e6:.2f} MFLOPs, "
        f"{ip['img_per_s']:.0f} img/s ({ip['img_per_s'] / dense['img_per_s']:.2f}×): the same outputs as the "
        "compacted path (tested), none of the savings.",
        "",
        f"Score ablation (aligned, r={min(s['ratios'])}, zero-shot top-1): "
        + ", ".join(f"{a['score']} {a['zero_shot']:.2f}" for a in res["score_ablation"]) + ".",
        "",
    ] + summary(res) + (speed_markdown(res["speed"]) if "speed" in res else []) + NOTES
    return "\n".join(lines)


SPEED_MODELS = {
    "digits model (32x32, 64 tokens)": (dict(MODEL_KW), IMG, (1, 2), 0.5, 128, 9),
    "PlainMamba-L2 width, 8 layers (224x224, 196 tokens)": (
        dict(embed_dim=384, depth=8, num_convs_patch_embed=2, layers_with_dwconv=(), num_classes=1000), 224,
        (1, 3), 0.5, 4, 5),
}


def summary(res: Dict) -> List[str]:
    """The issue's targets, read off this run."""
    rows = {r["setting"]: r for r in res["rows"]}
    dense = res["rows"][0]
    lines = ["## Against the targets", ""]
    for r in res["settings"]["ratios"]:
        n, a = rows[f"naive r={r}"], rows[f"aligned r={r}"]
        lines.append(f"- r={r}: aligned vs naive zero-shot {a['zero_shot']:.2f} vs {n['zero_shot']:.2f}, fine-tuned "
                     f"{a['fine_tuned']:.2f} vs {n['fine_tuned']:.2f} (aligned saves {a['flops_saved_pct']:.1f}% of "
                     f"the FLOPs, naive {n['flops_saved_pct']:.1f}%: naive also drops the grid-sized conv work).")
    best = max((r for r in res["rows"][1:] if r["setting"].startswith("aligned")), key=lambda r: r["flops_saved_pct"])
    lines += [
        f"- Largest saving measured here: aligned {best['setting'].split()[-1]}, {best['flops_saved_pct']:.1f}% fewer "
        f"FLOPs, fine-tuned {best['fine_tuned']:.2f} vs dense {dense['fine_tuned']:.2f}. The ≥30% FLOPs point of the "
        "target was not trained on digits (a 4-layer model pruned after blocks 1 and 2 tops out near 20%); the "
        "L2-width timing below reaches 29% with layers (1, 3) at r=0.5.",
        "- Caveats: one seed; the dense model trained 8 epochs and the pruned ones get 2 more (fine-tuning), so "
        "'fine-tuned' above dense is extra training, not pruning helping; 360 validation images (1 image = 0.28 "
        "points).",
        "",
    ]
    return lines


def speed_markdown(speed_rows: Dict) -> List[str]:
    lines = ["## CPU speed (interleaved timing)", "",
             "`PYTHONPATH=. python benchmarks/pruning.py --speed-only`: one forward of each setting per round, median "
             "over rounds, 1 thread, random weights (speed does not depend on them), keep ratio 0.5. The table above "
             "timed each setting on its own on a shared, loaded machine; these interleaved numbers are the ones to read.",
             ""]
    for title, rows in speed_rows.items():
        dense = rows[0]
        lines += [f"**{title}**", "", "| Setting | MFLOPs | FLOPs saved | img/s | Speed-up |", "|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['setting']} | {r['flops'] / 1e6:.1f} | {100 * (1 - r['flops'] / dense['flops']):.1f}% | "
                         f"{r['img_per_s']:.1f} | {r['img_per_s'] / dense['img_per_s']:.2f}× |")
        lines.append("")
    return lines


def speed_main(args) -> Dict:
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    res = json.loads((out / "pruning.json").read_text())
    res["speed"] = {}
    for title, (kw, size, layers, ratio, batch, rounds) in SPEED_MODELS.items():
        res["speed"][title] = speed(kw, size, layers, ratio, batch, rounds)
        for r in res["speed"][title]:
            print(f"{title} | {r['setting']}: {r['flops'] / 1e6:.1f} MFLOPs, {r['img_per_s']:.1f} img/s", flush=True)
    (out / "pruning.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "PRUNING.md").write_text(markdown(res))
    return res


NOTES = [
    "## How it works and when it helps",
    "",
    "- `pruning=dict(layers=(...), keep_ratio=r, method='aligned'|'naive', score='clipped'|'unclipped'|'l1'|'l2', "
    "compact=True)` as a timm kwarg, in an mmengine model config, or `model.set_pruning(...)` (`visionssm.pruning`).",
    "- **Aligned** (Zhan et al., NeurIPS 2024): a pruned step gets Δ = 0, so exp(Δ·A) = 1 and Δ·B·u = 0 and the "
    "hidden state passes through; every kept token sees the state it would see scanning the kept tokens in their "
    "original route order. This is exact with the existing op on every backend (tested on ref/torch/numba: states "
    "at kept steps equal the dense scan over the kept tokens).",
    "- **Compaction** is what saves time: kept tokens are gathered for the norms, projections and gating and the "
    "scan runs over kept steps only; the result equals aligned pruning in place (tested). In place (masking) costs "
    "as much as the dense model. In PlainMamba the depthwise 7×7 conv and the Δ/B/C projection still run on the "
    "full grid (the official model reads Δ/B/C of row-major token t at step t, and the conv needs the grid; pruned "
    "positions feed zeros), so FLOPs fall less than the token count.",
    "- **Naive** (EViT, and the released ToP-ViM code): the kept tokens are gathered in score order and the rest of "
    "the network scans them as one new sequence (for PlainMamba a 1×k row): neighbours in the scan change.",
    "- Pruning helps when tokens are many and redundant (ImageNet-size grids, backgrounds); the paper reports "
    "PlainMamba-L3 at 81.7% top-1 with 41.6% fewer FLOPs (dense 82.3%). On an 8×8 grid of a digit, every token "
    "carries stroke information and the run is small, so differences here are noisy: read them as a check of "
    "the direction, not as the paper's numbers.",
    "- Families: PlainMamba (all variants). Pruning layers must come after any layer with the L1 model's DW-conv "
    "(it needs the full grid). Vim is not wired yet: its blocks run a causal conv1d before the scan, so a compacted "
    "path must define the conv over kept tokens; the scores, selection, `aligned_delta` and `compact_steps` apply "
    "unchanged. Hierarchical families (VMamba, MSVMamba, EfficientVMamba, Spatial-Mamba, VSSD) are not supported: "
    "patch merging and their 2D convs need the full grid after every stage, which removes the savings.",
    "",
]


def main(argv: Optional[List[str]] = None) -> Dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--ft-epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--ft-lr", type=float, default=5e-4)
    p.add_argument("--ratios", type=float, nargs="+", default=[0.7, 0.5])
    p.add_argument("--layers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="2 epochs + 1 fine-tune epoch (smoke run)")
    p.add_argument("--out", default=str(HERE))
    p.add_argument("--speed-only", action="store_true",
                   help="only the interleaved CPU timing (added to an existing pruning.json / PRUNING.md)")
    args = p.parse_args(argv)
    if args.speed_only:
        return speed_main(args)
    if args.quick:
        args.epochs, args.ft_epochs = 2, 1
    res = run(args)
    out = Path(args.out)
    suffix = "_quick" if args.quick else ""
    (out / f"pruning{suffix}.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / f"PRUNING{suffix}.md").write_text(markdown(res))
    np.set_printoptions()
    return res


if __name__ == "__main__":
    main()
