"""Inference over image folders: ``python tools/infer.py INPUT [INPUT2] (--model NAME | --config CFG) --checkpoint CKPT``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from visionssm.cli.infer import main  # noqa: E402

if __name__ == "__main__":
    main(prog="tools/infer.py")
