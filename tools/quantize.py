"""Dynamic int8 Linear layers (PyTorch and ONNX), accuracy and speed vs float32: ``python tools/quantize.py CONFIG --checkpoint CKPT --eval-dir DIR``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from visionssm.cli.quantize import main  # noqa: E402

if __name__ == "__main__":
    main(prog="tools/quantize.py")
