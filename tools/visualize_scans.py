#!/usr/bin/env python
"""Draw scan strategies' token paths on a grid and write a PNG (see visionssm/scans/visualize.py).

Examples:
    python tools/visualize_scans.py                           # every strategy, 8x8 grid, scans.png
    python tools/visualize_scans.py --scans cross hilbert zigzag --size 7 9 --out work_dirs/scans.png
"""
import argparse

from visionssm.scans.visualize import draw_scans, drawable_scans


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description="Draw each scan strategy's token paths (one panel per direction) on an HxW grid and write "
                    "a PNG. Start = green dot, end = red square, colour dark->light = early->late token.")
    parser.add_argument("--scans", nargs="+", default=None, metavar="NAME",
                        help=f"registered scan names (default: all with a token order: {' '.join(drawable_scans())})")
    parser.add_argument("--size", nargs=2, type=int, default=(8, 8), metavar=("H", "W"),
                        help="grid height and width in tokens (default: 8 8)")
    parser.add_argument("--out", default="scans.png", help="output PNG path (default: scans.png)")
    parser.add_argument("--backend", choices=("auto", "matplotlib", "opencv"), default="auto",
                        help="renderer; auto = matplotlib if installed, else OpenCV")
    args = parser.parse_args(argv)
    path = draw_scans(args.scans, args.size[0], args.size[1], args.out, backend=args.backend)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
