"""Evaluate a checkpoint: ``python tools/test.py configs/<task>/<config>.py <checkpoint> [--out preds.pkl]``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from visionssm.cli.test import main  # noqa: E402
from visionssm.cli.train import cli_entry  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(cli_entry(main))
