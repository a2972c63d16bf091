"""Regenerate model_cards/<variant>.md from the registry: ``python tools/make_model_cards.py [--check]``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from visionssm.cards import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
