"""``visionssm export`` on a tiny model: writes a checked file, verifies it, and fails clearly on bad input."""
import pytest
import timm
from safetensors.torch import save_file

import visionssm  # noqa: F401

pytest.importorskip("onnxruntime", reason="the [deploy] extra is not installed")

from visionssm.cli.main import main  # noqa: E402


def test_cli_export_writes_and_verifies(tmp_path, capsys):
    ckpt = tmp_path / "w.safetensors"
    out = tmp_path / "model.onnx"
    full = timm.create_model("vmamba_tiny_s1l8", num_classes=3)
    save_file({k: v.contiguous() for k, v in full.state_dict().items()}, str(ckpt))
    assert main(["export", "vmamba_tiny_s1l8", "--checkpoint", str(ckpt), "--out", str(out),
                 "--input-size", "32", "32"]) == 0
    text = capsys.readouterr().out
    assert "opset 17" in text and "onnx.checker: passed" in text and "max abs error" in text
    err = float(text.rsplit("max abs error", 1)[1].split()[0])
    assert err < 1e-4 and out.is_file()


@pytest.mark.parametrize("argv, message", [
    (["export", "no_such_model"], "unknown model 'no_such_model'"),
    (["export", "vmamba_tiny_s1l8", "--checkpoint", "missing.pth"], "checkpoint missing.pth not found"),
])
def test_cli_export_bad_input_is_one_clear_line(argv, message):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert message in str(e.value) and "\n" not in str(e.value)
