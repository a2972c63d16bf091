"""``visionssm infer`` as a hostile user runs it: bad flags, unreadable inputs, unwritable or stale outputs, CSV
formulas in names, Ctrl-C in the middle of a folder and ``--resume``."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import timm
from PIL import Image

import visionssm  # noqa: F401
from visionssm.cli.main import main as cli_main
from visionssm.infer import Classifier, classify_folder
from visionssm.infer.classify import sheet_caption

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(depths=(1, 1, 1), dims=8)
SIZE = {"input_size": (3, 32, 32), "crop_pct": 1.0}
MODEL = ["--model", "vmamba_tiny_s1l8", "--num-classes", "3", "--model-kwargs", "depths=(1, 1, 1)", "dims=8",
         "--img-size", "32", "--no-progress", "--device", "cpu"]


def _images(d: Path, n: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray((rng.random((20 + i, 24, 3)) * 255).astype(np.uint8)).save(d / f"im{i}.png")
    return d


def _classifier(names=("cat", "dog", "eel")):
    return Classifier.from_name("vmamba_tiny_s1l8", num_classes=3, model_kwargs=TINY, data_overrides=SIZE,
                                class_names=list(names), device="cpu")


@pytest.mark.parametrize("flag", [["--topk", "0"], ["--topk", "-1"], ["--batch-size", "0"], ["--topk", "two"]])
def test_bad_numbers_are_one_usage_line(tmp_path, capsys, flag):
    with pytest.raises(SystemExit) as e:
        cli_main(["infer", str(tmp_path), *MODEL, "--out-dir", str(tmp_path / "o"), *flag])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" not in err
    assert f"argument {flag[0]}" in err.splitlines()[-1] and ">= 1" in err.splitlines()[-1]


def test_no_readable_input_exits_1(tmp_path, capsys):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "a.png").write_bytes(b"not a png")
    (d / "b.jpg").write_bytes(b"\xff\xd8\xff truncated")
    with pytest.raises(SystemExit) as e:
        cli_main(["infer", str(d), *MODEL, "--out-dir", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert e.value.code == 1 and "none of the 2 input(s) could be read" in captured.err
    assert "a.png" in captured.out and "b.jpg" in captured.out  # listed in the summary


def test_unwritable_output_fails_before_the_model_is_built(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as e:  # a checkpoint that does not exist: never reached
        cli_main(["infer", str(_images(tmp_path / "in", 1)), *MODEL, "--checkpoint", str(tmp_path / "none.pth"),
                  "--out-dir", str(tmp_path / "file" / "out")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "not writable" in err and "none.pth" not in err


def test_no_vis_overwrite_removes_the_old_contact_sheet(tmp_path):
    d, out = _images(tmp_path / "in", 3), tmp_path / "out"
    classify_folder(_classifier(), d, out, show_progress=False)
    assert (out / "contact_sheet.png").is_file()
    report = classify_folder(_classifier(), d, out, show_progress=False, save_sheet=False, overwrite=True)
    assert not (out / "contact_sheet.png").exists() and report.num_predicted == 3
    assert sorted(p.name for p in out.iterdir()) == ["predictions.csv", "predictions.json", "predictions.jsonl"]


def test_csv_names_are_neutralised(tmp_path):
    d = tmp_path / "in"
    _images(d / "=cmd", 1)
    _images(d, 1)
    (d / "im0.png").rename(d / "+x.png")
    report = classify_folder(_classifier(["=HYPERLINK(\"http://e\")", "@x", "-y"]), d, tmp_path / "out", topk=3,
                             show_progress=False, save_sheet=False)
    assert report.num_predicted == 2
    with open(tmp_path / "out" / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    cells = [v for r in rows for k, v in r.items() if "name" in k or k == "path"]
    assert cells and all(c.startswith("'") for c in cells)
    data = json.loads((tmp_path / "out" / "predictions.json").read_text())  # JSON keeps the true names
    assert {p["path"] for p in data["predictions"]} == {"+x.png", "=cmd/im0.png"}


def test_contact_sheet_captions_separate_label_and_score():
    assert sheet_caption({"name": "1", "score": 0.93}) == "1 | 0.93"
    assert sheet_caption({"name": "1", "score": 0.93, "gt_name": "1", "correct": True}) == "1 | 0.93"
    assert sheet_caption({"name": "1", "score": 0.93, "gt_name": "7", "correct": False}) == "1 | 0.93\ntrue 7"


def test_contact_sheet_marks_wrong_predictions(tmp_path):
    d = tmp_path / "in"
    for cls in ("cat", "dog"):
        _images(d / cls, 2, seed=len(cls) + ord(cls[0]))
    out = tmp_path / "out"
    classify_folder(_classifier(("eel", "fox", "gnu")), d, out, show_progress=False, gt_from_parent=True, topk=1)
    data = json.loads((out / "predictions.json").read_text())  # no folder is a class name: every one is wrong
    assert [p["gt_name"] for p in data["predictions"]] == ["cat", "cat", "dog", "dog"]
    assert not any(p["correct"] for p in data["predictions"]) and data["top1_accuracy"] == 0.0
    sheet = np.asarray(Image.open(out / "contact_sheet.png"))
    assert sheet.shape[0] == 2 * (96 + 2 + 13 * 2)  # two caption lines: the true label fits under a wrong one
    red = (sheet[..., 0] > 150) & (sheet[..., 1] < 80)
    assert red.any()  # wrong ones are drawn in red


@pytest.mark.slow
def test_sigint_keeps_finished_predictions_and_resume_completes(tmp_path):
    model = timm.create_model("vmamba_tiny_s1l8", num_classes=3, **TINY).eval()
    from safetensors.torch import save_file

    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    d, out = _images(tmp_path / "in", 6), tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "tools" / "infer.py"), str(d), "--model", "vmamba_tiny_s1l8",
           "--checkpoint", str(tmp_path / "w.safetensors"), "--model-kwargs", "depths=(1, 1, 1)", "dims=8",
           "--img-size", "32", "--no-progress", "--device", "cpu", "--batch-size", "1", "--out-dir", str(out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", VISIONSSM_INFER_SLEEP_PER_BATCH="2")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = out / "predictions.jsonl"
    deadline = time.monotonic() + 300
    while (not log.is_file() or len(log.read_text().splitlines()) < 2) and proc.poll() is None:
        assert time.monotonic() < deadline, "no predictions logged in time"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)  # Ctrl-C while the run sleeps after its second batch
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    kept = [json.loads(line) for line in log.read_text().splitlines()]
    assert 2 <= len(kept) < 6 and not (out / "predictions.json").exists()
    assert not list(out.rglob(".partial-*"))

    res = subprocess.run(cmd + ["--resume"], env=dict(env, VISIONSSM_INFER_SLEEP_PER_BATCH="0"),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    data = json.loads((out / "predictions.json").read_text())
    assert data["num_resumed"] == len(kept) and data["num_predicted"] == 6 - len(kept)
    assert [p["path"] for p in data["predictions"]] == [f"im{i}.png" for i in range(6)]
    by_path = {p["path"]: p for p in data["predictions"]}
    assert all(by_path[k["path"]] == k for k in kept)  # the finished ones were kept, not recomputed
    with open(out / "predictions.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 6
