"""``tools/test.py``: evaluate a checkpoint on a config's test set (COCO mAP, mIoU, top-1 ...)."""
import argparse
import os
import os.path as osp
from typing import List, Optional

from .train import build_runner, check_dataset_paths

__all__ = ["main", "parse_args"]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    p = argparse.ArgumentParser(description="Test a visionssm checkpoint (mmengine Runner).")
    p.add_argument("config", help="config file path")
    p.add_argument("checkpoint", help="checkpoint file (ours, or an mmdet/mmseg/mmengine one)")
    p.add_argument("--work-dir", help="where the evaluation log goes (default ./work_dirs/<config name>)")
    p.add_argument("--out", help="dump the raw predictions to this pickle file")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, help="override config entries")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none", help="job launcher")
    p.add_argument("--local_rank", "--local-rank", type=int, default=0)
    args = p.parse_args(argv)
    if "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    return args


def main(argv: Optional[List[str]] = None) -> dict:
    """Returns the metrics dict (e.g. ``{'coco/bbox_mAP': ...}``)."""
    import torch

    import visionssm.mm  # noqa: F401

    from .train import _replace_syncbn, load_cfg

    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f"checkpoint {args.checkpoint} not found")
    cfg = load_cfg(args)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.out is not None:
        if not args.out.endswith((".pkl", ".pickle")):
            raise ValueError("--out must be a .pkl file")
        cfg.test_evaluator = list(cfg.test_evaluator) if isinstance(cfg.test_evaluator, (list, tuple)) \
            else [cfg.test_evaluator]
        cfg.test_evaluator.append({"type": "DumpResults", "out_file_path": args.out})
    if not torch.cuda.is_available():
        _replace_syncbn(cfg._cfg_dict)
    check_dataset_paths(cfg, ("test",))
    runner = build_runner(cfg)
    return runner.test()


if __name__ == "__main__":
    main()
