"""``visionssm digits [DIR]``: export scikit-learn's digits to an ImageNet-style folder (quickstart data)."""
import argparse
from typing import List, Optional

from visionssm.data.digits import export_digits

__all__ = ["main"]


def main(argv: Optional[List[str]] = None, prog: str = "visionssm digits") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__)
    p.add_argument("out_dir", nargs="?", default="data/digits", help="output folder (default data/digits)")
    p.add_argument("--val-fraction", type=float, default=0.2, help="held-out share per class (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an export made with another split")
    args = p.parse_args(argv)
    counts = export_digits(args.out_dir, args.val_fraction, args.seed, args.overwrite)
    print(f"digits -> {args.out_dir}: {counts['train']} train / {counts['val']} val images (seed {args.seed})")
    return 0
