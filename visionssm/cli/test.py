"""``tools/test.py``: evaluate a checkpoint on a config's test set (COCO mAP, mIoU, top-1 ...).

The checkpoint is read with ``weights_only=True`` and loaded strictly: a checkpoint of another model stops with
the mismatched keys (exit code 1) instead of reporting the metric of a half-random model. The model is built
without downloading backbone weights (the checkpoint replaces them).
"""
import argparse
import os
import os.path as osp
import sys
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
    p.add_argument("--show-dir", help="save pictures of the predictions here (detection and segmentation: the "
                                      "config's visualization hook; classification: image with true / predicted "
                                      "label). A relative path is inside <work-dir>/<timestamp>/ for detection, "
                                      "as in mmdet")
    p.add_argument("--show", action="store_true", help="show the pictures in a window (needs a display)")
    p.add_argument("--wait-time", type=float, default=None, help="--show: seconds each picture stays (default 2)")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, help="override config entries")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none", help="job launcher")
    p.add_argument("--local_rank", "--local-rank", type=int, default=0)
    args = p.parse_args(argv)
    if args.wait_time is not None and not args.show:
        p.error("--wait-time sets how long --show displays each picture: add --show, or drop --wait-time")
    if args.show and sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                               or os.environ.get("WAYLAND_DISPLAY")):
        p.error("--show needs a display (DISPLAY is not set): save the pictures with --show-dir DIR instead")
    if "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    return args


def _visualize(cfg, args) -> None:
    """``--show`` / ``--show-dir``: turn on the config's visualization hook (mmdet / mmseg) or ours (classification)."""
    if not (args.show or args.show_dir):
        return
    hooks = cfg.setdefault("default_hooks", {})
    hook = dict(hooks.get("visualization") or {"type": "visionssm.ClsVisualizationHook"})
    hook["draw"] = True
    if args.show:
        hook["show"] = True
        hook["wait_time"] = 2.0 if args.wait_time is None else args.wait_time
    if args.show_dir:
        if "ClsVisualizationHook" in str(hook.get("type")):
            hook["out_dir"] = args.show_dir
        elif "SegVisualizationHook" in str(hook.get("type")):  # mmseg draws through the visualizer's save_dir
            cfg.visualizer["save_dir"] = args.show_dir
            hook["interval"] = 1  # its default draws every 50th batch: a picture of every prediction here
        else:  # mmdet's DetVisualizationHook
            hook["test_out_dir"] = args.show_dir
    hooks["visualization"] = hook  # (a ConfigDict copies what it is given: assign the finished dict)


def main(argv: Optional[List[str]] = None) -> dict:
    """Returns the metrics dict (e.g. ``{'coco/bbox_mAP': ...}``)."""
    import visionssm.mm  # noqa: F401
    from visionssm.mm.loading import load_model_checkpoint, without_backbone_weights
    from visionssm.mm.runner import VisionSSMRunner

    from .train import load_cfg, replace_syncbn_on_cpu

    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f"checkpoint {args.checkpoint} not found")
    cfg = load_cfg(args)
    without_backbone_weights(cfg.model)  # the checkpoint holds every weight: build offline
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.out is not None:
        if not args.out.endswith((".pkl", ".pickle")):
            raise ValueError("--out must be a .pkl file")
        cfg.test_evaluator = list(cfg.test_evaluator) if isinstance(cfg.test_evaluator, (list, tuple)) \
            else [cfg.test_evaluator]
        cfg.test_evaluator.append({"type": "DumpResults", "out_file_path": args.out})
    _visualize(cfg, args)
    replace_syncbn_on_cpu(cfg)
    check_dataset_paths(cfg, ("test",))
    runner = build_runner(cfg)
    if isinstance(runner, VisionSSMRunner):
        runner.strict_load_from = True
    else:  # a config's own runner_type: load strictly here, before mmengine's non-strict load_from
        load_model_checkpoint(runner.model, args.checkpoint, strict=True)
        runner._load_from = None
    return runner.test()
