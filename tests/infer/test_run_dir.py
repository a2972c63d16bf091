"""The run folder: checked before work, per-batch log, --overwrite clears the earlier run, --resume continues."""
import json

import pytest

from visionssm.infer.outputs import LOG_NAME, RunDir, ensure_writable, read_log


def _write(run, rel, text):
    return run.save(rel, lambda tmp: tmp.write_text(text))


def test_unwritable_output_folder_fails_first(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(PermissionError, match="not writable.*--out-dir"):
        ensure_writable(tmp_path / "file" / "out")  # a folder under a file: fails for root too
    with pytest.raises(PermissionError):
        RunDir(tmp_path / "file" / "out")


def test_log_resume_and_overwrite(tmp_path):
    out = tmp_path / "out"
    run = RunDir(out, ["masks/a.png", "masks/b.png"], summaries=("predictions.json", "contact_sheet.png"))
    _write(run, "masks/a.png", "A")
    run.append([{"path": "a.png", "files": ["masks/a.png"]}])
    with open(out / LOG_NAME, "a") as f:
        f.write('{"path": "b.png", "fi')  # a line cut short by a killed run
    assert [r["path"] for r in read_log(out / LOG_NAME)] == ["a.png"]
    assert not list(out.rglob(".partial-*"))

    with pytest.raises(FileExistsError, match="--overwrite.*--resume"):
        RunDir(out, ["masks/a.png"])
    resumed = RunDir(out, ["masks/a.png", "masks/b.png"], resume=True)
    assert set(resumed.done) == {"a.png"}
    _write(resumed, "masks/b.png", "B")
    resumed.append([{"path": "b.png", "files": ["masks/b.png"]}])
    assert [r["path"] for r in read_log(out / LOG_NAME)] == ["a.png", "b.png"]  # the cut line did not eat b

    (out / "contact_sheet.png").write_text("old sheet")
    (out / "masks" / "gone.png").write_text("old")  # an input of the earlier run that is not in this one
    with open(out / LOG_NAME, "a") as f:
        f.write(json.dumps({"path": "gone.png", "files": ["masks/gone.png"]}) + "\n")
    fresh = RunDir(out, ["masks/a.png"], overwrite=True, summaries=("predictions.json", "contact_sheet.png"))
    assert fresh.done == {} and not (out / LOG_NAME).exists() and not (out / "contact_sheet.png").exists()
    assert not list((out / "masks").iterdir())  # nothing of the earlier run mixes with the new one
    with pytest.raises(ValueError, match="one of them"):
        RunDir(out, overwrite=True, resume=True)


def test_interrupted_write_leaves_no_partial_file(tmp_path):
    run = RunDir(tmp_path / "out")

    def boom(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run.save("masks/x.png", boom)
    assert not (tmp_path / "out" / "masks" / "x.png").exists()
    assert not list((tmp_path / "out").rglob(".partial-*"))
