"""Official checkpoint → safetensors + timm config.json: ``python tools/convert.py CKPT --family F --official-kwargs J --model NAME --out-dir D``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from visionssm.cli.convert import main  # noqa: E402

if __name__ == "__main__":
    main(prog="tools/convert.py")
