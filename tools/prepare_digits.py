"""Export scikit-learn's handwritten digits to an ImageNet-style folder: ``python tools/prepare_digits.py data/digits``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from visionssm.cli.digits import main  # noqa: E402

if __name__ == "__main__":
    main(prog="tools/prepare_digits.py")
