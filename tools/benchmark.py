"""Params, FLOPs, throughput and peak memory next to timm references: ``python tools/benchmark.py --help``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from visionssm.benchmark import main  # noqa: E402

if __name__ == "__main__":
    main()
