"""Export scikit-learn's handwritten digits to an ImageNet-style folder (``python tools/prepare_digits.py data/digits``)."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from visionssm.data.digits import export_digits  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out_dir", nargs="?", default="data/digits", help="output folder (default data/digits)")
    p.add_argument("--val-fraction", type=float, default=0.2, help="held-out share per class (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an export made with another split")
    args = p.parse_args(argv)
    counts = export_digits(args.out_dir, args.val_fraction, args.seed, args.overwrite)
    print(f"digits -> {args.out_dir}: {counts['train']} train / {counts['val']} val images (seed {args.seed})")


if __name__ == "__main__":
    main()
