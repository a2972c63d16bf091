"""Any registered model or config (+ checkpoint) → model.onnx, verified in onnxruntime: ``python tools/export.py MODEL --checkpoint CKPT --out model.onnx``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from visionssm.cli.export import main  # noqa: E402

if __name__ == "__main__":
    main(prog="tools/export.py")
