"""Folder inference: expected files, bad inputs skipped and listed, no silent overwrite."""
import shutil

import numpy as np
import pytest
from PIL import Image

from visionssm.changedet import MambaBCD, MambaSCD, infer_folder

TINY = {"backbone_kwargs": {"depths": (1, 1, 1, 1), "dims": 8}, "channels": 8, "block_kwargs": {"mlp_ratio": 1.0}}


@pytest.fixture()
def pair_dirs(levir_root, tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    shutil.copytree(levir_root["root"] / "test" / "A", before)
    shutil.copytree(levir_root["root"] / "test" / "B", after)
    return before, after


def test_writes_masks_and_overlays_and_skips_bad_files(pair_dirs, tmp_path, capsys):
    before, after = pair_dirs
    (before / "corrupt.png").write_bytes(b"not a png at all")
    (after / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    Image.new("RGB", (40, 40)).save(before / "small.png")
    Image.new("RGB", (48, 40)).save(after / "small.png")
    Image.new("RGB", (40, 40)).save(before / "lonely.png")
    out = tmp_path / "out"
    report = infer_folder(MambaBCD(**TINY), before, after, out, progress=False)

    assert report.num_predicted == 2 and sorted(p.name for p in (out / "masks").iterdir()) == ["test_0.png", "test_1.png"]
    failed = dict(report.failures)
    assert set(failed) == {"corrupt.png", "small.png", "lonely.png"}
    assert "cannot read image" in failed["corrupt.png"] and "size mismatch" in failed["small.png"]
    assert "no partner" in failed["lonely.png"]
    assert "corrupt.png" in capsys.readouterr().err  # listed
    for name in ("test_0.png", "test_1.png"):
        mask = np.asarray(Image.open(out / "masks" / name))
        overlay = np.asarray(Image.open(out / "overlays" / name))
        assert mask.shape == (64, 64) and set(np.unique(mask)) <= {0, 255}
        assert overlay.shape == (64, 64, 3)
        # overlay = after image where nothing changed
        after_img = np.asarray(Image.open(after / name).convert("RGB"))
        np.testing.assert_array_equal(overlay[mask == 0], after_img[mask == 0])


def test_never_overwrites_without_permission(pair_dirs, tmp_path):
    before, after = pair_dirs
    (before / "test_1.png").unlink()  # one pair is enough here
    (after / "test_1.png").unlink()
    out = tmp_path / "out"
    model = MambaBCD(**TINY)
    infer_folder(model, before, after, out, progress=False)
    marker = out / "masks" / "test_0.png"
    stamp = marker.stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="overwrite=True"):
        infer_folder(model, before, after, out, progress=False)
    resumed = infer_folder(model, before, after, out, progress=False, resume=True)
    assert resumed.num_predicted == 0 and resumed.num_resumed == 1
    assert marker.stat().st_mtime_ns == stamp
    assert infer_folder(model, before, after, out, progress=False, overwrite=True).num_predicted == 1
    assert marker.stat().st_mtime_ns != stamp


def test_semantic_outputs(pair_dirs, tmp_path):
    before, after = pair_dirs
    (before / "test_1.png").unlink()
    out = tmp_path / "scd"
    report = infer_folder(MambaSCD(**TINY), before, after, out, progress=False)
    assert report.num_predicted == 1 and report.failures == [("test_1.png", f"no partner in {before}")]
    for sub in ("masks", "overlays", "semantic_from", "semantic_to"):
        assert [p.name for p in (out / sub).iterdir()] == ["test_0.png"]
    sem = np.asarray(Image.open(out / "semantic_to" / "test_0.png"))
    mask = np.asarray(Image.open(out / "masks" / "test_0.png"))
    assert (sem[mask == 0] == 255).all()  # unchanged pixels carry the 'unchanged' colour (white)


def _pair(before, after, rel, size=(32, 32), seed=0):
    rng = np.random.default_rng(seed)
    for side in (before, after):
        (side / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((*size, 3)) * 255).astype(np.uint8)).save(side / rel)


def test_same_stem_and_same_name_in_sub_folders_do_not_collide(tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    rels = ["a.png", "a.jpg", "sub1/case.png", "sub2/case.png"]
    for i, rel in enumerate(rels):
        _pair(before, after, rel, size=(32 + 8 * i, 32), seed=i)
    out = tmp_path / "out"
    report = infer_folder(MambaBCD(**TINY), before, after, out, progress=False)
    assert report.num_predicted == 4 and not report.failures
    masks = sorted(p.relative_to(out / "masks").as_posix() for p in (out / "masks").rglob("*.png"))
    assert masks == ["a.png", "a_png.png", "sub1/case.png", "sub2/case.png"]
    # each output has its own input's size: nothing was overwritten by another input
    assert Image.open(out / "masks" / "a.png").size == (32, 40)  # a.jpg (sorted first)
    assert Image.open(out / "masks" / "a_png.png").size == (32, 32)
    assert Image.open(out / "masks" / "sub2" / "case.png").size == (32, 56)
    import json

    data = json.loads((out / "predictions.json").read_text())
    assert [p["path"] for p in data["predictions"]] == sorted(rels)


def test_interrupted_run_keeps_finished_pairs_and_resumes(tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    for i in range(4):
        _pair(before, after, f"p{i}.png", seed=i)
    model, out = MambaBCD(**TINY), tmp_path / "out"
    forward, calls = model.forward, []

    def interrupted_forward(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C during the third pair
        return forward(*a, **k)

    model.forward = interrupted_forward
    with pytest.raises(KeyboardInterrupt):
        infer_folder(model, before, after, out, progress=False)
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["p0.png", "p1.png"]
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 2
    assert not (out / "predictions.json").exists()
    model.forward = forward
    with pytest.raises(FileExistsError, match="--resume"):
        infer_folder(model, before, after, out, progress=False)
    report = infer_folder(model, before, after, out, progress=False, resume=True)
    assert (report.num_resumed, report.num_predicted) == (2, 2)
    assert sorted(p.name for p in (out / "masks").iterdir()) == [f"p{i}.png" for i in range(4)]
