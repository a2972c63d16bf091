"""``tools/train.py``: train a config with mmengine's Runner (OpenMMLab flags; cls, det and seg share one engine)."""
import argparse
import logging
import os
import os.path as osp
from typing import List, Optional

__all__ = ["check_dataset_paths", "cli_entry", "main", "parse_args", "prepare_cfg"]

# Expected on-disk layouts, shown when a dataset folder or annotation file is missing.
DATASET_LAYOUTS = {
    "CocoDataset": ("COCO layout:\n  <data_root>/annotations/instances_train2017.json\n"
                    "  <data_root>/annotations/instances_val2017.json\n  <data_root>/train2017/<image>.jpg\n"
                    "  <data_root>/val2017/<image>.jpg\n(download from https://cocodataset.org; default data_root "
                    "data/coco/)"),
    "ADE20KDataset": ("ADE20K (ADEChallengeData2016) layout:\n  <data_root>/images/training/<name>.jpg\n"
                      "  <data_root>/images/validation/<name>.jpg\n  <data_root>/annotations/training/<name>.png\n"
                      "  <data_root>/annotations/validation/<name>.png\n(default data_root "
                      "data/ade/ADEChallengeData2016/)"),
    "ImageNetFolder": ("ImageNet folder layout:\n  <data_root>/train/<class_name>/<image>.JPEG\n"
                       "  <data_root>/val/<class_name>/<image>.JPEG\n(default data_root data/imagenet/)"),
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    p = argparse.ArgumentParser(description="Train a visionssm model (mmengine Runner).")
    p.add_argument("config", help="config file path")
    p.add_argument("--work-dir", help="where logs and checkpoints go (default ./work_dirs/<config name>)")
    p.add_argument("--amp", action="store_true", help="automatic mixed precision (AmpOptimWrapper, dynamic scale)")
    p.add_argument("--resume", nargs="?", type=str, const="auto",
                   help="resume from a checkpoint path, or with no value the latest checkpoint in the work dir")
    p.add_argument("--auto-scale-lr", action="store_true", help="scale the lr by (total batch / base batch)")
    p.add_argument("--no-validate", action="store_true", help="skip validation during training")
    p.add_argument("--cfg-options", nargs="+", action=DictAction,
                   help="override config entries, e.g. model.backbone.drop_path_rate=0.3 "
                        "(quote lists: key=\"[a,b]\")")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none", help="job launcher")
    p.add_argument("--local_rank", "--local-rank", type=int, default=0)
    p.add_argument("--brief", action="store_true",
                   help="console shows progress, metrics and output paths only; the environment, config and hook "
                        "dumps still go to the log file in the work dir")
    args = p.parse_args(argv)
    if "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    return args


def _replace_syncbn(obj, where: str = "") -> List[str]:
    """SyncBN needs CUDA: on CPU-only machines use plain BN. Returns the config paths it changed."""
    changed = []
    if isinstance(obj, dict):
        if obj.get("type") == "SyncBN":
            obj["type"] = "BN"
            changed.append(where or "<config>")
        for k, v in obj.items():
            changed += _replace_syncbn(v, f"{where}.{k}" if where else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            changed += _replace_syncbn(v, f"{where}[{i}]")
    return changed


def replace_syncbn_on_cpu(cfg) -> List[str]:
    """SyncBN → BN when there is no CUDA device, logged with the config entries it changed."""
    import torch

    if torch.cuda.is_available():
        return []
    changed = _replace_syncbn(cfg._cfg_dict)
    if changed:
        logging.getLogger("visionssm").warning(
            "no CUDA device: SyncBN needs CUDA, so these norm layers use plain BN (statistics per process): %s",
            ", ".join(changed))
    return changed


def _datasets(ds):
    """Leaf dataset configs under wrappers (RepeatDataset, ConcatDataset, ...)."""
    if ds is None:
        return
    if "datasets" in ds:
        for d in ds["datasets"]:
            yield from _datasets(d)
    elif "dataset" in ds and isinstance(ds["dataset"], dict):
        yield from _datasets(ds["dataset"])
    else:
        yield ds


def check_dataset_paths(cfg, phases=("train", "val", "test")) -> None:
    """Fail early, naming the expected layout, when a configured dataset folder or annotation file is missing."""
    for phase in phases:
        loader = cfg.get(f"{phase}_dataloader")
        if not loader:
            continue
        for ds in _datasets(loader.get("dataset")):
            dtype = str(ds.get("type", "")).split(".")[-1]
            root = ds.get("data_root") or ""
            paths = []
            if root:
                paths.append(root)
            ann = ds.get("ann_file")
            if ann:
                paths.append(osp.join(root, ann))
            prefix = ds.get("data_prefix") or {}
            if isinstance(prefix, dict):
                paths += [osp.join(root, v) for v in prefix.values() if isinstance(v, str) and v]
            if dtype == "ImageNetFolder":
                paths.append(osp.join(root, ds.get("split", "train")))
            for path in paths:
                if not osp.exists(path):
                    layout = DATASET_LAYOUTS.get(dtype, "see the dataset's documentation")
                    raise FileNotFoundError(
                        f"{phase} dataset ({dtype or 'unknown type'}): {path} not found.\nExpected {layout}\n"
                        f"Point the config at your copy, e.g. --cfg-options {phase}_dataloader.dataset.data_root=...")


def load_cfg(args: argparse.Namespace):
    """Config file + the flags train and test share (--launcher, --cfg-options, --work-dir)."""
    from mmengine.config import Config

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = osp.join("./work_dirs", osp.splitext(osp.basename(args.config))[0])
    return cfg


def prepare_cfg(args: argparse.Namespace):
    """Config + CLI flags → the config the Runner is built from (shared with tests)."""
    import torch

    import visionssm.mm  # noqa: F401  (mmcv-lite ops, safe resume, registries)

    cfg = load_cfg(args)
    if args.amp:
        if not torch.cuda.is_available():
            raise RuntimeError("--amp needs a CUDA device (mmengine's AmpOptimWrapper); drop --amp on CPU")
        if cfg.optim_wrapper.get("type", "OptimWrapper") == "AmpOptimWrapper":
            logging.getLogger(__name__).warning("AMP is already enabled in the config")
        else:
            cfg.optim_wrapper.type = "AmpOptimWrapper"
            cfg.optim_wrapper.loss_scale = "dynamic"
    if args.auto_scale_lr:
        if "auto_scale_lr" not in cfg or "base_batch_size" not in cfg.auto_scale_lr:
            raise RuntimeError("--auto-scale-lr needs auto_scale_lr = dict(base_batch_size=...) in the config")
        cfg.auto_scale_lr.enable = True
    if args.resume == "auto":
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f"--resume {args.resume}: no such checkpoint")
        cfg.resume = True
        cfg.load_from = args.resume
    if getattr(args, "no_validate", False):
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    replace_syncbn_on_cpu(cfg)
    return cfg


def init_cpu_distributed(cfg) -> None:
    """mmengine's ``pytorch`` launcher always calls ``torch.cuda.set_device`` and gives DDP a CUDA ``device_ids``;
    without CUDA (CPU clusters, CI) we join torchrun's process group ourselves with gloo (the Runner then uses it)
    and wrap the model in DDP without device ids."""
    import torch
    import torch.distributed as dist

    if cfg.get("launcher", "none") != "pytorch" or torch.cuda.is_available() or dist.is_initialized():
        return
    cfg.setdefault("env_cfg", {}).setdefault("dist_cfg", {})["backend"] = "gloo"
    if cfg.get("model_wrapper_cfg") is None:
        cfg.model_wrapper_cfg = {"type": "MMDistributedDataParallel", "broadcast_buffers": False,
                                     "find_unused_parameters": cfg.get("find_unused_parameters", False)}
    cfg.model_wrapper_cfg.setdefault("device_ids", None)  # CPU modules take no device ids
    dist.init_process_group(backend="gloo")


def build_runner(cfg, brief: bool = False):
    """:class:`visionssm.mm.runner.VisionSSMRunner` (safe, strict checkpoint loading), or ``runner_type``."""
    from mmengine.registry import RUNNERS

    from visionssm.mm.runner import BriefConsoleRunner, VisionSSMRunner

    init_cpu_distributed(cfg)
    if "runner_type" not in cfg:
        return (BriefConsoleRunner if brief else VisionSSMRunner).from_cfg(cfg)
    return RUNNERS.build(cfg)


def main(argv: Optional[List[str]] = None):
    from visionssm.mm.config_check import check_config

    args = parse_args(argv)
    cfg = prepare_cfg(args)
    check_config(cfg)
    check_dataset_paths(cfg, ("train", "val") if cfg.get("val_cfg") else ("train",))
    runner = build_runner(cfg, brief=args.brief)
    result = runner.train()
    if args.brief:
        _print_outputs(runner)
    return result


def _print_outputs(runner) -> None:
    from mmengine.dist import is_main_process

    if not is_main_process():
        return
    work_dir = runner.work_dir
    last = osp.join(work_dir, "last_checkpoint")
    ckpt = "(none saved)"
    if osp.isfile(last):
        with open(last) as f:
            ckpt = f.read().strip()
    log = getattr(runner.logger, "log_file", None) or osp.join(work_dir, runner.timestamp)
    print(f"outputs: checkpoint {ckpt}\n         full log (environment, config, hooks) {log}")


def cli_entry(main_fn) -> int:
    """Run a tool's ``main``: a user error (bad config key, mismatched or unsafe checkpoint, missing file) is one
    ``error:`` line on stderr and exit code 1, not a traceback."""
    import sys

    from visionssm.mm.config_check import ConfigKeyError
    from visionssm.mm.loading import CheckpointError

    try:
        main_fn()
    except (ConfigKeyError, CheckpointError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_entry(main))
