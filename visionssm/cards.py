"""Model cards (``model_cards/<variant>.md``) generated from the registry, so they cannot drift from the code.

Sources of every line: the timm registration (pretrained cfg: weights location, licence, input size,
normalisation), the model built on the meta device (parameter count, stage widths and strides),
``visionssm.models.published`` (official results with their source, papers, citations, parity fixtures) and,
when present, the benchmark results files written by ``tools/benchmark.py`` (FLOPs, CPU and GPU throughput) in the
folder given with ``--benchmarks``. ``visionssm cards --benchmarks DIR --out DIR`` (or ``tools/make_model_cards.py``
in a checkout) rewrites the cards folder; ``--check`` lists missing, stale and orphaned cards.
"""
import argparse
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

FLOPS_NAME = "flops_cpu.json"  # tools/benchmark.py --flops-only --all-registered --out <benchmarks>/flops_cpu.json
# results_cpu.json, results_cpu_<suffix>.json, results_cuda_<gpu>.json: per device, the first file naming a model wins
THROUGHPUT_GLOBS = ("results_cpu*.json", "results_cuda*.json")


def throughput_files(folder: Path) -> List[Path]:
    """The throughput results files in a benchmarks folder, in the order the cards read them."""
    return [f for pattern in THROUGHPUT_GLOBS for f in sorted(Path(folder).glob(pattern))]

# Hugging Face licence ids; anything else is written as "other" with license_name (the hub's convention)
_HF_LICENSES = {"mit", "apache-2.0", "bsd-3-clause", "cc-by-4.0", "cc-by-nc-4.0"}
_DATASET_IDS = {"ImageNet-1k": "imagenet-1k", "COCO": "coco", "ADE20K": "ade20k"}


def family_of(name: str) -> str:
    """The visionssm family module that registered ``name``."""
    import timm

    from visionssm.models import FAMILIES

    for family in FAMILIES:
        if name in timm.list_models(module=family):
            return family
    raise KeyError(f"{name!r} is not a registered visionssm model")


def _load_json(path: Optional[Path]) -> Optional[Dict[str, Any]]:
    if path is None or not Path(path).is_file():
        return None
    with open(path) as f:
        return json.load(f)


def _model_facts(name: str) -> Dict[str, Any]:
    """Parameter count and feature pyramid of the full-size model, built on the meta device (no memory, no init)."""
    import timm
    import torch

    with torch.device("meta"):
        model = timm.create_model(name)
    info = [{"num_chs": f["num_chs"], "reduction": f["reduction"]} for f in getattr(model, "feature_info", [])]
    return {"params": sum(p.numel() for p in model.parameters()), "feature_info": info,
            "pretrained_cfg": dict(model.pretrained_cfg)}


def measured_throughput(name: str, results: Optional[Sequence[Dict[str, Any]]],
                        device: str = "cpu") -> Optional[Dict[str, Any]]:
    """The plain (no kwargs) entry of ``name`` in ``tools/benchmark.py`` results run on ``device`` ("cpu" or "cuda";
    first file naming it), with its run."""
    for res in results or ():
        if not str(res.get("environment", {}).get("device", "cpu")).startswith(device):
            continue
        for entry in res.get("models", []):
            if entry.get("label") == name and "infer" in entry:
                return {"entry": entry, "settings": res.get("settings", {}), "environment": res.get("environment", {}),
                        "command": res.get("command")}
    return None


def _yaml_front_matter(name: str, family: str, cfg: Dict[str, Any]) -> List[str]:
    from visionssm.models.published import FAMILY_FACTS, PUBLISHED

    lic = (cfg.get("license") or "unknown").lower()
    lines = ["---"]
    if lic in _HF_LICENSES:
        lines.append(f"license: {lic}")
    else:
        lines += ["license: other", f"license_name: {lic}"]
    lines += ["library_name: timm", "pipeline_tag: image-classification", "tags:"]
    lines += [f"- {t}" for t in ("image-classification", "timm", "visionssm", "state-space-model", "mamba", family)]
    datasets = [_DATASET_IDS.get(d, d.lower().replace(" ", "-")) for d in FAMILY_FACTS[family].datasets]
    facts = PUBLISHED.get(name)
    if facts:
        for r in facts.results:
            ds = _DATASET_IDS.get(r.dataset, r.dataset.lower())
            if ds not in datasets:
                datasets.append(ds)
    lines.append("datasets:")
    lines += [f"- {d}" for d in datasets]
    top1 = [r for r in facts.results if r.metric == "top-1" and r.dataset == "ImageNet-1k"] if facts else []
    if top1:
        r = top1[0]
        lines += ["model-index:", f"- name: {name}", "  results:", "  - task:", "      type: image-classification",
                  "    dataset:", "      name: ImageNet-1k", "      type: imagenet-1k", "    metrics:",
                  "    - type: accuracy", f"      value: {r.value}", "      name: top-1 (published by the authors)"]
    lines.append("---")
    return lines


def _fmt_params(n: int) -> str:
    return f"{n / 1e6:.2f}M ({n:,})"


def _throughput_line(tp: Optional[Dict[str, Any]], device: str) -> str:
    """The card's CPU or GPU throughput line from one ``measured_throughput`` result."""
    label = "CPU" if device == "cpu" else "GPU"
    if not tp:
        return f"- **{label} throughput (ours):** not measured"
    e, s, env = tp["entry"], tp["settings"], tp["environment"]
    digits = 2 if device == "cpu" else 0
    scan = {"numba": "numba scan", "torch": "PyTorch scan", "triton": "Triton scan"}.get(env.get("scan_backend", ""))
    where = (f"float32, {env.get('torch_threads')} threads on {env.get('cpu')}" + (f", {scan}" if scan else "")
             if device == "cpu" else f"float32 on {env.get('gpu')} (torch {env.get('torch')}, Triton scan)")
    line = (f"- **{label} throughput (ours):** {e['infer']['img_per_s']:.{digits}f} img/s inference"
            + (f", {e['train']['img_per_s']:.{digits}f} img/s training" if "train" in e else "")
            + f" at {e['input_size'][1]}x{e['input_size'][2]}, batch {s.get('batch_size')}, {where}")
    ratio = e.get("ratio", {}).get("infer", {}).get("convnext_tiny")
    if ratio is not None:
        line += f"; {ratio:.2f}x timm convnext_tiny in the same run"
    load = f"load average {env.get('loadavg_start')}; " if device == "cpu" else ""
    return line + f" ({load}see benchmarks/MODELS.md)"


def render_card(name: str, flops: Optional[Dict[str, Any]] = None, throughput: Optional[Sequence[Dict[str, Any]]] = None,
                facts: Optional[Dict[str, Any]] = None) -> str:
    """The markdown card of registered model ``name``. ``flops``/``throughput``: loaded benchmark results or None."""
    import timm

    from visionssm.models.published import FAMILY_FACTS, PUBLISHED, SOURCES, family_fixture

    family = family_of(name)
    fam = FAMILY_FACTS[family]
    facts = facts or _model_facts(name)
    cfg = facts["pretrained_cfg"]
    pub = PUBLISHED.get(name)
    doc = (timm.models.model_entrypoint(name).__doc__ or "").strip().splitlines()
    size = tuple(cfg.get("input_size", (3, 224, 224)))
    out = _yaml_front_matter(name, family, cfg)
    out += ["", f"# Model card for {name}", "", fam.description, ""]
    if doc:
        out += [f"This variant: {doc[0]}", ""]
    out += ["*Generated by `python tools/make_model_cards.py` from the visionssm registry; do not edit by hand.*", ""]

    # ---- details
    out += ["## Model Details", "", "- **Model type:** image classification / feature backbone"]
    out.append(f"- **Parameters:** {_fmt_params(facts['params'])}, counted from the code"
               + (f" (published: {pub.params_m:g}M, {SOURCES[pub.source].title})" if pub and pub.params_m else ""))
    flop_entry = (flops or {}).get("models", {}).get(name)
    if flop_entry and flop_entry.get("params") == facts["params"]:
        fs = flop_entry["input_size"]
        scan = (f"selective scan: {flop_entry['scan_flops'] / 1e9:.3f} G" if flop_entry["scan_flops"]
                else "no selective-scan call")
        out.append(f"- **FLOPs:** {flop_entry['flops'] / 1e9:.2f} G at {fs[1]}x{fs[2]}, batch 1 ({scan}), VMamba's "
                   "convention: one multiply-add = 1 FLOP, each scan 9·B·L·D·N (+B·D·L for D; 7·B·L·D·N when it returns "
                   "hidden states); measured by `tools/benchmark.py --flops-only`"
                   + (f" (published: {pub.gflops:g} G)" if pub and pub.gflops else ""))
    else:
        out.append("- **FLOPs:** not measured" + (f" (published: {pub.gflops:g} G)" if pub and pub.gflops else ""))
    out.append(_throughput_line(measured_throughput(name, throughput), "cpu"))
    gpu = measured_throughput(name, throughput, device="cuda")
    if gpu:
        out.append(_throughput_line(gpu, "cuda"))
    if pub and pub.throughput:
        out.append(f"- **Published throughput:** {pub.throughput}")
    out.append(f"- **Image size:** {size[1]}x{size[2]} (crop_pct {cfg.get('crop_pct')}, {cfg.get('interpolation')}"
               f" interpolation, mean {tuple(cfg.get('mean', ()))}, std {tuple(cfg.get('std', ()))})")
    if facts["feature_info"]:
        chans = ", ".join(f"{f['num_chs']}@/{f['reduction']}" for f in facts["feature_info"])
        out.append(f"- **Feature maps (`features_only=True`):** {chans} (channels@stride)")
    out.append(f"- **Paper:** [{fam.title}](https://arxiv.org/abs/{fam.paper_id.split(':', 1)[1]})")
    out.append(f"- **Original code:** {fam.repo} (checked against commit `{fam.commit[:8]}`)")
    out.append(f"- **Dataset:** {', '.join(fam.datasets)}")
    weights = cfg.get("hf_hub_id") and f"https://huggingface.co/{cfg['hf_hub_id']}" or cfg.get("url") or cfg.get("origin_url")
    out.append(f"- **Official weights:** {weights or 'none released'}; licence `{cfg.get('license')}` ({fam.license_note})")
    out.append("")

    # ---- official results
    out += ["## Official results", ""]
    if pub and pub.results:
        out += ["| Task | Dataset | Metric | Value | Setting | Source |", "|---|---|---|---|---|---|"]
        for r in pub.results:
            src = SOURCES[r.source]
            out.append(f"| {r.task} | {r.dataset} | {r.metric} | {r.value} | {r.setting} | [{src.title}]({src.url}) |")
        out += ["", f"Official name: {pub.official_name}. These numbers are the authors'; visionssm has not re-run "
                "the evaluations.", ""]
    else:
        out += ["No published results are recorded for this variant.", ""]

    # ---- parity
    out += ["## Parity with the official implementation", ""]
    fixture = family_fixture(family, name)
    if fixture:
        out += [f"- **Fixture:** `shared/fixtures/{fixture}`: the official model class from {fam.repo} at "
                f"`{fam.commit[:8]}`, built with a released variant's hyper-parameters but reduced depth/width and "
                "random weights, run on CPU in float32 (logits and per-stage features).",
                f"- **Test:** `tests/models/test_{family}.py` converts the official checkpoint (official key names) "
                f"with `visionssm.convert.from_official(\"{fixture}\", ...)`, loads it strictly and requires "
                "`torch.testing.assert_close(ours, official, atol=1e-4, rtol=1e-4)` for logits and features.",
                f"- **Scope:** the fixture anchors this variant's code path; {name} differs only in depth/width/"
                "ratios, and its full-size parameter count is checked against the published count "
                "(`tests/models/test_timm_invariants.py`).", ""]
    else:
        out += ["No official-output fixture covers this variant; parity is unverified.", ""]

    # ---- loading
    file_name = cfg.get("hf_hub_filename") or (cfg.get("url") or "").rsplit("/", 1)[-1] or f"{name}.pth"
    out += ["## Loading the official checkpoint", "", "```python", "import timm", "import visionssm  # registers the models", ""]
    if cfg.get("url") or cfg.get("hf_hub_id"):
        out += ["# fetches the pretrained cfg's url / hf_hub_id and converts on load (checkpoint_filter_fn);",
                "# see the notes below for files that need a one-off conversion first",
                f"model = timm.create_model(\"{name}\", pretrained=True).eval()", ""]
    out += ["# offline, or for weights without a direct link: the official file downloaded by hand",
            f"model = timm.create_model(\"{name}\", pretrained=True,",
            f"                          pretrained_cfg_overlay=dict(file=\"{file_name}\")).eval()", ""]
    if fixture:
        out += ["# from the official constructor arguments (as in the official config) and checkpoint",
                "from visionssm.convert import from_official",
                f"model = from_official(\"{fixture}\", official_kwargs, \"{file_name}\")", ""]
    out += ["# feature pyramid for detection / segmentation",
            f"backbone = timm.create_model(\"{name}\", pretrained=True, features_only=True,",
            f"                             pretrained_cfg_overlay=dict(file=\"{file_name}\"))", "```", ""]
    notes = cfg.get("notes") or ()
    if isinstance(notes, str):
        notes = (notes,)
    if cfg.get("origin_url") and not (cfg.get("url") or cfg.get("hf_hub_id")):
        out += [f"Download page: {cfg['origin_url']}", ""]
    for note in notes:
        out += [f"Note: {note}", ""]

    # ---- citation
    out += ["## Citation", "", "```bibtex", fam.bibtex, "```", ""]
    return "\n".join(out)


def render_all(names: Optional[Sequence[str]] = None, flops_file: Optional[Path] = None,
               throughput_files_: Sequence[Path] = ()) -> Dict[str, str]:
    """{file name: card text} for every registered variant (or ``names``; never the ``test_*`` variants by default),
    quoting the given benchmark results files (none: "not measured")."""
    from visionssm.models import registered_model_names

    flops = _load_json(flops_file)
    throughput = [r for r in (_load_json(f) for f in throughput_files_) if r]
    return {f"{n}.md": render_card(n, flops, throughput) for n in (names or registered_model_names())}


def check_cards(cards_dir: Path, rendered: Dict[str, str]) -> List[str]:
    """Problems between the cards on disk and ``rendered``: missing, stale (differs from the render), orphaned."""
    problems = []
    on_disk = {p.name for p in Path(cards_dir).glob("*.md") if p.name != "README.md"}
    for fname, text in sorted(rendered.items()):
        path = Path(cards_dir) / fname
        if fname not in on_disk:
            problems.append(f"missing card {path}")
        elif path.read_text() != text:
            problems.append(f"stale card {path}")
    for fname in sorted(on_disk - set(rendered)):
        problems.append(f"card for an unregistered model: {Path(cards_dir) / fname}")
    return problems


def write_cards(cards_dir: Path, rendered: Dict[str, str], prune: bool = True) -> List[Path]:
    """Write every card; with ``prune`` delete cards of models that are no longer registered."""
    cards_dir = Path(cards_dir)
    cards_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, text in rendered.items():
        path = cards_dir / fname
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    if prune:
        for path in cards_dir.glob("*.md"):
            if path.name != "README.md" and path.name not in rendered:
                path.unlink()
    return written


def main(argv: Optional[Sequence[str]] = None, prog: str = "visionssm cards", benchmarks: Optional[Path] = None,
         out: Optional[Path] = None) -> int:
    """Command line; ``benchmarks`` / ``out`` are defaults for the two folders (the checkout's, in the tools script)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--benchmarks", type=Path, default=benchmarks, required=benchmarks is None,
                   help=f"folder of tools/benchmark.py results ({FLOPS_NAME}, {', '.join(THROUGHPUT_GLOBS)})"
                   + (" (default: %(default)s)" if benchmarks else ""))
    p.add_argument("--out", type=Path, default=out, required=out is None,
                   help="cards folder" + (" (default: %(default)s)" if out else ""))
    p.add_argument("--flops", type=Path, default=None, help=f"FLOPs results (default: <benchmarks>/{FLOPS_NAME})")
    p.add_argument("--throughput", type=Path, nargs="*", default=None,
                   help=f"throughput results (default: <benchmarks>/{{{','.join(THROUGHPUT_GLOBS)}}})")
    p.add_argument("--models", nargs="*", default=None, help="only these registered variants (default: all)")
    p.add_argument("--check", action="store_true", help="only report missing / stale / orphaned cards (exit 1 if any)")
    args = p.parse_args(argv)
    if not args.benchmarks.is_dir():
        p.error(f"--benchmarks {args.benchmarks} is not a folder; pass the folder tools/benchmark.py wrote into")
    flops = args.flops or args.benchmarks / FLOPS_NAME
    files = args.throughput if args.throughput is not None else throughput_files(args.benchmarks)
    rendered = render_all(args.models, flops_file=flops, throughput_files_=files)
    if args.check:
        problems = check_cards(args.out, rendered)
        for line in problems:
            print(line)
        return 1 if problems else 0
    written = write_cards(args.out, rendered)
    print(f"{len(rendered)} cards in {args.out} ({len(written)} written)")
    return 0


__all__ = ["render_card", "render_all", "check_cards", "write_cards", "family_of", "measured_throughput", "main"]
