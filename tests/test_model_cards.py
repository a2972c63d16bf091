"""model_cards/ must agree with the registry: one current card per registered variant and nothing else."""
import json
from pathlib import Path

import pytest
import yaml

from visionssm.cards import _DATASET_IDS, FLOPS_NAME, check_cards, family_of, main, render_all, throughput_files
from visionssm.models import FAMILIES, registered_model_names
from visionssm.models.published import FAMILY_FACTS, PARAM_COUNTS, PUBLISHED, SOURCES, family_fixture

REGEN = "regenerate with `python tools/make_model_cards.py`"
ROOT = Path(__file__).resolve().parents[1]
CARDS_DIR, BENCHMARKS = ROOT / "model_cards", ROOT / "benchmarks"
FLOPS_FILE = BENCHMARKS / FLOPS_NAME


def test_cards_on_disk_match_a_fresh_render_of_the_registry():
    rendered = render_all(flops_file=FLOPS_FILE, throughput_files_=throughput_files(BENCHMARKS))
    problems = check_cards(CARDS_DIR, rendered)
    assert not problems, f"{len(problems)} model card problem(s), {REGEN}:\n" + "\n".join(problems)


def test_check_reports_missing_stale_and_orphaned_cards(tmp_path):
    names = ["vmamba_tiny_s1l8", "vim_tiny"]
    rendered = render_all(names)
    for fname, text in rendered.items():
        (tmp_path / fname).write_text(text)
    assert check_cards(tmp_path, rendered) == []
    (tmp_path / "vim_tiny.md").write_text(rendered["vim_tiny.md"].replace("76.1", "77.0"))
    (tmp_path / "vmamba_tiny_s1l8.md").unlink()
    (tmp_path / "vmamba_huge.md").write_text("# not a model\n")
    problems = check_cards(tmp_path, rendered)
    assert any(p.startswith("stale card") and "vim_tiny.md" in p for p in problems)
    assert any(p.startswith("missing card") and "vmamba_tiny_s1l8.md" in p for p in problems)
    assert any(p.startswith("card for an unregistered model") and "vmamba_huge.md" in p for p in problems)
    assert len(problems) == 3


def test_every_variant_has_published_facts_a_family_and_a_parity_fixture():
    names = registered_model_names()
    assert set(PUBLISHED) == set(names), "visionssm/models/published.py must cover exactly the registered variants"
    assert set(FAMILY_FACTS) == set(FAMILIES)
    for name in names:
        fam = family_of(name)
        assert family_fixture(fam, name) is not None, f"{name}: no parity fixture recorded in published.py"
        facts = PUBLISHED[name]
        assert facts.source in SOURCES and all(r.source in SOURCES for r in facts.results)
        if FAMILY_FACTS[fam].datasets == ("ImageNet-1k",):  # RSMamba: remote-sensing fine-tunes only
            assert any(r.metric == "top-1" and r.dataset == "ImageNet-1k" for r in facts.results)


def test_published_parity_fixtures_are_the_shared_ones(fixtures_dir):
    for family, fam in FAMILY_FACTS.items():
        for fixture, _ in fam.fixtures:
            cfg = json.loads((fixtures_dir / fixture / "config.json").read_text())
            assert cfg["family"] == fixture
            assert cfg["official_commit"] == fam.commit, f"{family}: fixture {fixture} was made at another commit"
            assert cfg["official_repo"].rstrip("/") == fam.repo
            assert (Path(__file__).parent / "models" / f"test_{family}.py").is_file()


def test_precise_param_counts_agree_with_the_tables():
    assert set(PARAM_COUNTS) == set(PUBLISHED)
    for name, millions in PARAM_COUNTS.items():
        rounded = PUBLISHED[name].params_m
        if rounded is None:  # no published count (RSMamba): PARAM_COUNTS holds the released architecture's
            continue
        # the sources print whole millions, rounded or truncated (EfficientVMamba-B 33.7M is "33M")
        assert abs(rounded - millions) < 1, f"{name}: the table says {rounded}M, PARAM_COUNTS {millions}M"


def test_measured_flops_file_matches_the_current_code():
    """A FLOPs file made before an architecture change would put wrong numbers in the cards."""
    assert FLOPS_FILE.is_file(), f"{FLOPS_FILE} missing: python tools/benchmark.py --flops-only --all-registered --out {FLOPS_FILE}"
    measured = json.loads(FLOPS_FILE.read_text())["models"]
    assert set(measured) == set(registered_model_names()), "re-run tools/benchmark.py --flops-only --all-registered"
    for name in measured:
        card = (CARDS_DIR / f"{name}.md").read_text()
        assert f"{measured[name]['params']:,})" in card, f"{name}: FLOPs file params differ from the code; re-measure"
        assert f"{measured[name]['flops'] / 1e9:.2f} G at" in card


def test_front_matter_is_hugging_face_yaml():
    for name in registered_model_names():
        text = (CARDS_DIR / f"{name}.md").read_text()
        assert text.startswith("---\n")
        meta = yaml.safe_load(text.split("---\n")[1])
        assert meta["library_name"] == "timm" and "image-classification" in meta["tags"]
        family = FAMILY_FACTS[family_of(name)]
        assert meta["datasets"][:len(family.datasets)] == [
            _DATASET_IDS.get(d, d.lower().replace(" ", "-")) for d in family.datasets]
        assert meta["license"] in ("mit", "apache-2.0") or (meta["license"] == "other" and meta["license_name"])
        top1 = [r.value for r in PUBLISHED[name].results if r.metric == "top-1" and r.dataset == "ImageNet-1k"]
        assert ("model-index" in meta) == bool(top1)
        if top1:
            assert meta["model-index"][0]["results"][0]["metrics"][0]["value"] == top1[0]
        assert f"# Model card for {name}\n" in text and "```bibtex" in text


def test_throughput_lines_are_per_device():
    """A CPU run feeds the CPU line only, a CUDA run the GPU line only; the first file naming a model wins."""
    from visionssm.cards import measured_throughput

    def run(device, img_s):
        return {"environment": {"device": device}, "settings": {"batch_size": 4},
                "models": [{"label": "vmamba_tiny", "infer": {"img_per_s": img_s}}]}

    results = [run("cpu", 2.0), run("cuda", 700.0), run("cpu", 3.0)]
    assert measured_throughput("vmamba_tiny", results)["entry"]["infer"]["img_per_s"] == 2.0
    assert measured_throughput("vmamba_tiny", results, device="cuda")["entry"]["infer"]["img_per_s"] == 700.0
    assert measured_throughput("vmamba_tiny", results[:1], device="cuda") is None


def test_cpu_throughput_line_names_the_scan_backend():
    """Cards say which scan produced a CPU number (numba and the PyTorch path differ by up to 10x)."""
    from visionssm.cards import _throughput_line

    def line(env_extra):
        env = {"device": "cpu", "torch_threads": 2, "cpu": "AMD EPYC", "loadavg_start": [1.0], **env_extra}
        entry = {"infer": {"img_per_s": 7.5}, "input_size": [3, 224, 224]}
        return _throughput_line({"entry": entry, "settings": {"batch_size": 4}, "environment": env}, "cpu")

    assert "2 threads on AMD EPYC, numba scan;" not in line({})  # older results files: no claim
    assert "2 threads on AMD EPYC, numba scan" in line({"scan_backend": "numba"})
    assert "PyTorch scan" in line({"scan_backend": "torch"})


def test_generator_reads_the_folders_it_is_given(tmp_path, capsys):
    """No path relative to the package: an installed wheel has no benchmarks/ beside it."""
    bench, out = tmp_path / "bench", tmp_path / "cards"
    bench.mkdir()
    flops = {"models": {"vim_tiny": {"params": 1, "flops": 2e9, "scan_flops": 0, "input_size": [3, 224, 224]}}}
    (bench / FLOPS_NAME).write_text(json.dumps(flops))
    with pytest.raises(SystemExit):
        main(["--out", str(out)])  # --benchmarks is required outside the checkout's tool
    assert "--benchmarks" in capsys.readouterr().err
    args = ["--benchmarks", str(bench), "--out", str(out), "--models", "vim_tiny"]
    assert main(args) == 0
    assert [p.name for p in out.glob("*.md")] == ["vim_tiny.md"]
    assert "- **CPU throughput (ours):** not measured" in (out / "vim_tiny.md").read_text()
    assert main([*args, "--check"]) == 0
    (out / "vim_tiny.md").write_text("edited\n")
    assert main([*args, "--check"]) == 1 and "stale card" in capsys.readouterr().out
