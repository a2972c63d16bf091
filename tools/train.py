"""Train with mmengine: ``python tools/train.py configs/<task>/<config>.py [--work-dir D] [--resume] ...``."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from visionssm.cli.train import cli_entry, main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(cli_entry(main))
