"""Regenerate model_cards/<variant>.md from the registry and benchmarks/: ``python tools/make_model_cards.py [--check]``
(``--benchmarks DIR --out DIR`` for other folders)."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a source checkout without installing

from visionssm.cards import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(prog="tools/make_model_cards.py", benchmarks=ROOT / "benchmarks", out=ROOT / "model_cards"))
