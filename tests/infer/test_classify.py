"""Classification over a folder: mixed formats, a corrupt file, no-overwrite, checkpoints, the CLI, conversion."""
import csv
import json

import numpy as np
import pytest
import timm
import torch
from PIL import Image

import visionssm  # noqa: F401
from visionssm.cli.main import main as cli_main
from visionssm.infer import Classifier, classify_folder

TINY = dict(depths=(1, 1, 1), dims=8)
SIZE = {"input_size": (3, 32, 32), "crop_pct": 1.0}


@pytest.fixture
def image_dir(tmp_path):
    """6 readable images (8-bit RGB PNG/JPEG, 16-bit PNG, grayscale, odd sizes, a sub-folder) + 1 corrupt file."""
    rng = np.random.default_rng(0)
    d = tmp_path / "imgs"
    (d / "sub").mkdir(parents=True)
    Image.fromarray((rng.random((40, 30, 3)) * 255).astype(np.uint8)).save(d / "rgb.png")
    Image.fromarray((rng.random((17, 50, 3)) * 255).astype(np.uint8)).save(d / "photo.jpg")
    Image.fromarray((rng.random((24, 24)) * 65535).astype(np.uint16)).save(d / "depth16.png")
    Image.fromarray((rng.random((9, 9)) * 255).astype(np.uint8)).save(d / "sub" / "gray.png")
    Image.fromarray((rng.random((33, 33, 3)) * 255).astype(np.uint8)).save(d / "sub" / "x.bmp")
    Image.fromarray((rng.random((20, 20, 4)) * 255).astype(np.uint8)).save(d / "sub" / "rgba.png")
    (d / "sub" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return d


def _classifier(**kw):
    return Classifier.from_name("vmamba_tiny_s1l8", num_classes=3, model_kwargs=TINY, data_overrides=SIZE,
                                class_names=["cat", "dog", "eel"], device="cpu", **kw)


def test_folder_with_corrupt_file(image_dir, tmp_path):
    out = tmp_path / "out"
    report = classify_folder(_classifier(), image_dir, out, topk=2, batch_size=4, show_progress=False)
    assert report.num_inputs == 7 and report.num_predicted == 6
    assert [p.split("/")[-1] for p, _ in report.failures] == ["corrupt.png"]
    data = json.loads((out / "predictions.json").read_text())
    assert data["failures"][0]["path"].endswith("sub/corrupt.png") and data["failures"][0]["reason"]
    assert data["preprocessing"]["input_size"] == [3, 32, 32]
    paths = [p["path"] for p in data["predictions"]]
    assert sorted(paths) == ["depth16.png", "photo.jpg", "rgb.png", "sub/gray.png", "sub/rgba.png", "sub/x.bmp"]
    for p in data["predictions"]:
        scores = [t["score"] for t in p["topk"]]
        assert len(scores) == 2 and scores[0] >= scores[1] and sum(scores) <= 1 + 1e-5
        assert p["name"] == ["cat", "dog", "eel"][p["label"]] == p["topk"][0]["name"]
    with open(out / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["path"] for r in rows] == paths and rows[0]["top2_name"] in ("cat", "dog", "eel")
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.size[0] >= 96 * 2


def test_predictions_match_the_model(image_dir, tmp_path):
    """The folder runner's top-1 equals the model applied to the timm eval transform of the same file."""
    clf = _classifier()
    report = classify_folder(clf, image_dir / "rgb.png", tmp_path / "o", topk=3, show_progress=False, save_sheet=False)
    assert report.num_predicted == 1
    pred = json.loads((tmp_path / "o" / "predictions.json").read_text())["predictions"][0]
    x = clf.transform(Image.open(image_dir / "rgb.png").convert("RGB"))[None]
    with torch.no_grad():
        probs = clf.model(x).softmax(-1)[0]
    assert pred["label"] == int(probs.argmax())
    assert pred["score"] == pytest.approx(float(probs.max()), abs=1e-5)


def test_never_overwrites_without_flag(image_dir, tmp_path, capsys):
    out = tmp_path / "out"
    classify_folder(_classifier(), image_dir, out, show_progress=False, save_sheet=False)
    before = (out / "predictions.json").read_text()
    with pytest.raises(FileExistsError, match=r"predictions\.json.*--overwrite"):
        classify_folder(_classifier(), image_dir, out, show_progress=False, save_sheet=False)
    assert (out / "predictions.json").read_text() == before
    classify_folder(_classifier(), image_dir, out, show_progress=False, save_sheet=False, overwrite=True)
    # the CLI turns it into a clear error and exit status 2
    with pytest.raises(SystemExit) as e:
        cli_main(["infer", str(image_dir), "--model", "vmamba_tiny_s1l8", "--num-classes", "3", "--no-vis",
                  "--out-dir", str(out), "--no-progress", "--device", "cpu"])
    assert e.value.code == 2 and "--overwrite" in capsys.readouterr().err


def test_checkpoint_round_trip_and_cli(image_dir, tmp_path, capsys):
    """A safetensors checkpoint gives the class count; a mmengine-style {'state_dict': {'model.*'}} one too."""
    from safetensors.torch import save_file

    model = timm.create_model("vmamba_tiny_s1l8", num_classes=4, **TINY).eval()
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    torch.save({"meta": {"dataset_meta": {"classes": ("a", "b", "c", "d")}},
                "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "mm.pth")
    clf = Classifier.from_name("vmamba_tiny_s1l8", str(tmp_path / "mm.pth"), model_kwargs=TINY, data_overrides=SIZE)
    assert clf.class_names == ["a", "b", "c", "d"]
    for k, v in model.state_dict().items():
        torch.testing.assert_close(clf.model.state_dict()[k], v)
    out = tmp_path / "cli"
    cli_main(["infer", str(image_dir), "--model", "vmamba_tiny_s1l8", "--checkpoint", str(tmp_path / "w.safetensors"),
              "--model-kwargs", "depths=(1, 1, 1)", "dims=8",
              "--img-size", "32", "--out-dir", str(out), "--topk", "3", "--no-progress", "--batch-size", "2"])
    text = capsys.readouterr().out
    assert "6/7 image(s) predicted" in text and "corrupt.png" in text
    data = json.loads((out / "predictions.json").read_text())
    assert len(data["predictions"][0]["topk"]) == 3 and data["predictions"][0]["name"] in "0123"


def test_wrong_checkpoint_names_the_problem(tmp_path):
    model = timm.create_model("vmamba_tiny_s1l8", num_classes=4, depths=(1, 1, 2), dims=8)
    torch.save(model.state_dict(), tmp_path / "w.pth")
    with pytest.raises(Exception, match="(?i)missing|unexpected|size"):
        Classifier.from_name("vmamba_tiny_s1l8", str(tmp_path / "w.pth"), model_kwargs=TINY)


def test_convert_official_to_timm_local_dir(fixtures_dir, tmp_path):
    """tools/convert.py: official VMamba-v2 release format → safetensors + config.json that timm loads."""
    from visionssm.cli.convert import main as convert_main
    from visionssm.convert.vmamba import official_kwargs_to_ours

    fx = fixtures_dir / "vmamba_v2"
    cfg = json.loads((fx / "config.json").read_text())
    args = {k: list(v) if isinstance(v, tuple) else v for k, v in official_kwargs_to_ours(cfg["official_kwargs"]).items()}
    out = tmp_path / "conv"
    convert_main([str(fx / "checkpoint.pth"), "--family", "vmamba_v2", "--official-kwargs",
                  json.dumps(cfg["official_kwargs"]), "--model", "vmamba_tiny_s1l8", "--model-args", json.dumps(args),
                  "--out-dir", str(out)])
    model = timm.create_model(f"local-dir:{out}", pretrained=True).eval()
    x = torch.load(fx / "input.pt", weights_only=True)
    with torch.no_grad():
        err = (model(x) - torch.load(fx / "logits.pt", weights_only=True)).abs().max().item()
    assert err < 1e-4
    with pytest.raises(FileExistsError, match="--overwrite"):
        convert_main([str(fx / "checkpoint.pth"), "--family", "vmamba_v2", "--official-kwargs",
                      json.dumps(cfg["official_kwargs"]), "--model", "vmamba_tiny_s1l8", "--out-dir", str(out)])


def test_console_command_lists_subcommands(capsys):
    assert cli_main(["--help"]) == 0
    text = capsys.readouterr().out
    for cmd in ("infer", "train", "test", "convert", "benchmark", "cards", "digits"):
        assert f"  {cmd}" in text
    with pytest.raises(SystemExit):
        cli_main(["nope"])
