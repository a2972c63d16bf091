"""``visionssm infer`` / ``tools/infer.py``: predictions for a folder (recursively), one image, or a folder pair.

Examples::

    visionssm infer data/digits/val --config configs/quickstart/vmamba-digits_1xb64_20e.py \\
        --checkpoint work_dirs/quickstart/epoch_20.pth --out-dir outputs/digits
    visionssm infer photos/ --model vmamba_tiny_s1l8 --checkpoint vmamba_tiny_s1l8.safetensors --out-dir out
    visionssm infer city/ --config configs/segmentation/upernet_...py --checkpoint iter_160000.pth --out-dir seg
    visionssm infer coco/ --config configs/detection/mask-rcnn_...py --checkpoint epoch_12.pth --out-dir det
    visionssm infer before/ after/ --config configs/change_detection/...py --checkpoint ckpt.pth --out-dir cd
    visionssm infer scans/ --config configs/medical/vm-unet_isic17-256x256.py --checkpoint best.pth --out-dir med

The task is read from the config's model (or ``--model`` → classification, two inputs → change detection);
``--task`` forces it. Unreadable files are listed and skipped (exit code 1 when none could be read); existing
outputs need ``--overwrite`` (start over) or ``--resume`` (finish an interrupted run: predictions.jsonl keeps
every finished input).
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

__all__ = ["build_parser", "main", "task_of_config"]

TASKS = ("auto", "cls", "seg", "det", "cd", "medical")


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (so --topk 0 / --batch-size 0 get one usage line, not a traceback)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser(prog: str = "visionssm infer") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("input", help="image folder (searched recursively), single image, or the 'before' folder (cd)")
    p.add_argument("input2", nargs="?", help="change detection: the 'after' folder (same file names)")
    p.add_argument("--task", choices=TASKS, default="auto", help="default: from the config / arguments")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", "-m", help="registered timm/visionssm classifier name (classification)")
    src.add_argument("--config", "-c", help="training config (mmengine) the checkpoint was trained with")
    p.add_argument("--checkpoint", help="weights: ours, timm's, mmengine's or an official release (.pth/.safetensors)")
    p.add_argument("--pretrained", action="store_true", help="--model only: load timm's pretrained weights")
    p.add_argument("--out-dir", "-o", default="outputs/infer", help="output folder (default outputs/infer)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--overwrite", action="store_true",
                      help="remove the earlier run's outputs in --out-dir and start over")
    mode.add_argument("--resume", action="store_true",
                      help="keep the inputs already in --out-dir/predictions.jsonl and predict the rest")
    p.add_argument("--batch-size", "-b", type=_positive_int, default=16, help="images per forward pass (default 16)")
    p.add_argument("--num-workers", "-j", type=int, default=0, help="classification: image-loading processes")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, ...")
    p.add_argument("--amp", action="store_true", help="mixed precision (float16 on CUDA, bfloat16 on CPU)")
    p.add_argument("--topk", type=_positive_int, default=5, help="classification: labels kept per image (default 5)")
    p.add_argument("--class-map", help="classification: text file with one class name per line")
    p.add_argument("--num-classes", type=int, help="--model without checkpoint: classifier width")
    p.add_argument("--model-kwargs", nargs="+", default=[], metavar="K=V",
                   help="--model: extra timm.create_model kwargs, Python literals (e.g. depths='(1,1,2)' dims=24)")
    p.add_argument("--img-size", type=_positive_int,
                   help="classification: override the input size of the pretrained cfg; medical: resize 2D images "
                        "to this square size (default: the config's test pipeline)")
    p.add_argument("--crop-pct", type=float, help="classification: override the centre-crop fraction")
    p.add_argument("--gt-from-parent", action="store_true",
                   help="classification: the parent folder name is the true class; report accuracy")
    p.add_argument("--score-thr", type=float, default=0.3, help="detection: keep instances scoring at least this")
    p.add_argument("--no-vis", action="store_true", help="skip overlays / the contact sheet")
    p.add_argument("--no-recursive", action="store_true", help="do not descend into sub-folders")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def task_of_config(config: str) -> str:
    """``cls`` / ``seg`` / ``det`` / ``cd`` / ``medical`` from the config's model type and default scope."""
    try:  # first: mmengine/mmseg/mmdet need its compatibility shims (pkg_resources, mmcv._ext) to read configs
        import visionssm.mm  # noqa: F401
    except ImportError as e:
        raise ImportError("reading a config needs the OpenMMLab stack: pip install 'visionssm[mm]'") from e
    from mmengine.config import Config

    cfg = Config.fromfile(config)
    mtype = str(cfg.model.get("type", ""))
    if mtype.endswith("TimmClassifier"):
        return "cls"
    if mtype.endswith("ChangeDetector"):
        return "cd"
    if mtype.endswith("MedSegModel"):
        return "medical"
    scope = cfg.get("default_scope", "")
    if scope == "mmseg" or "EncoderDecoder" in mtype:
        return "seg"
    if scope == "mmdet":
        return "det"
    raise ValueError(f"cannot tell the task of {config} (model type {mtype!r}, scope {scope!r}); pass --task")


def _model_kwargs(items: List[str]) -> dict:
    import ast

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--model-kwargs expects key=value, got {item!r}")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value  # a bare string such as scan=zigzag
    return out


def _class_names(path: Optional[str]) -> Optional[List[str]]:
    if path is None:
        return None
    names = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if not names:
        raise ValueError(f"--class-map {path} holds no names")
    return names


def run(args: argparse.Namespace):
    from visionssm.infer.common import resolve_device
    from visionssm.infer.outputs import ensure_writable

    ensure_writable(args.out_dir)  # before a model is built or a checkpoint read

    task = args.task
    if task == "auto":
        task = "cd" if args.input2 else ("cls" if args.model else task_of_config(args.config))
    if task != "cd" and args.input2:
        raise SystemExit(f"a second input is only used for change detection (--task cd), not {task}")
    if task != "cls" and args.model:
        raise SystemExit(f"--model names a classifier; task {task} needs --config with --checkpoint")
    if task != "cls" and not args.checkpoint:
        raise SystemExit(f"task {task} needs --checkpoint (the weights trained with {args.config})")
    common = dict(overwrite=args.overwrite, resume=args.resume, recursive=not args.no_recursive,
                  show_progress=not args.no_progress)
    if task == "cls":
        from visionssm.infer import Classifier, classify_folder

        overrides = {}
        if args.img_size:
            overrides["input_size"] = (3, args.img_size, args.img_size)
        if args.crop_pct:
            overrides["crop_pct"] = args.crop_pct
        names = _class_names(args.class_map)
        if args.model:
            clf = Classifier.from_name(args.model, args.checkpoint, num_classes=args.num_classes,
                                       pretrained=args.pretrained, class_names=names, data_overrides=overrides,
                                       model_kwargs=_model_kwargs(args.model_kwargs),
                                       device=args.device, amp=args.amp)
        else:
            clf = Classifier.from_config(args.config, args.checkpoint, class_names=names, data_overrides=overrides,
                                         device=args.device, amp=args.amp)
        return classify_folder(clf, args.input, args.out_dir, topk=args.topk, batch_size=args.batch_size,
                               num_workers=args.num_workers, save_sheet=not args.no_vis,
                               gt_from_parent=args.gt_from_parent, **common)
    if task == "seg":
        from visionssm.infer.segment import Segmenter, segment_folder

        seg = Segmenter.from_config(args.config, args.checkpoint, device=args.device, amp=args.amp)
        return segment_folder(seg, args.input, args.out_dir, batch_size=args.batch_size,
                              save_overlays=not args.no_vis, **common)
    if task == "det":
        from visionssm.infer.detect import Detector, detect_folder

        det = Detector.from_config(args.config, args.checkpoint, device=args.device, amp=args.amp)
        return detect_folder(det, args.input, args.out_dir, batch_size=args.batch_size, score_thr=args.score_thr,
                             save_overlays=not args.no_vis, **common)
    if task == "cd":
        if not args.input2:
            raise SystemExit("change detection needs two folders: visionssm infer BEFORE AFTER --config ...")
        from visionssm.changedet import infer_folder, model_from_config

        device = resolve_device(args.device)
        model = model_from_config(args.config, args.checkpoint).to(device)
        return infer_folder(model, args.input, args.input2, args.out_dir, overwrite=args.overwrite,
                            resume=args.resume, recursive=not args.no_recursive, device=device,
                            progress=not args.no_progress)
    if task == "medical":
        return _medical(args, resolve_device(args.device))
    raise SystemExit(f"unknown task {task}")


def _medical(args, device):
    """Medical 2D images / NIfTI volumes with a ``MedSegModel`` config: the geometry (resize, sliding window,
    slices) and intensity normalisation of the config's test pipeline, as ``tools/test.py`` evaluates it."""
    import torch
    from mmengine.config import Config

    import visionssm.medical.mm  # noqa: F401  (registers MedSegModel)
    from visionssm.convert import load_state_dict_strict, unwrap_state_dict
    from visionssm.infer.common import load_any_checkpoint
    from visionssm.infer.io import list_images
    from visionssm.medical.infer import settings_from_config, write_masks
    from visionssm.mm.registry import MODELS

    cfg = Config.fromfile(args.config)
    model = MODELS.build(dict(cfg.model, pretrained=None))
    load_state_dict_strict(model, unwrap_state_dict(load_any_checkpoint(args.checkpoint)), source=args.checkpoint)
    model = model.to(device).eval()
    settings = settings_from_config(cfg)
    if args.img_size:
        settings.update(image_size=args.img_size, roi_size=None)
    links: list = []
    root, files = list_images(args.input, recursive=not args.no_recursive,
                              extensions=(".nii", ".nii.gz", ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"),
                              skipped=links)
    with torch.inference_mode():
        report = write_masks(model.net, [str(f) for f in files], args.out_dir, overwrite=args.overwrite,
                             resume=args.resume, root=str(root), device=device, **settings)
    for path, reason in links:
        report.failures.append((path, reason))
    return report


def main(argv: Optional[List[str]] = None, prog: str = "visionssm infer"):
    """Runs the command; exit code 2 for a usage / output-folder problem, 1 when no input could be read,
    130 when interrupted (the finished predictions stay in ``--out-dir``; ``--resume`` completes them)."""
    from visionssm.convert import CheckpointError

    args = build_parser(prog).parse_args(argv)
    try:
        report = run(args)
    except (FileExistsError, FileNotFoundError, PermissionError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print(f"\ninterrupted: the inputs finished so far are listed in {Path(args.out_dir) / 'predictions.jsonl'} "
              "with their files; run the same command with --resume to predict the rest", file=sys.stderr)
        raise SystemExit(130) from None
    print(report.summary())
    if report.exit_code:
        print(f"error: none of the {len(report.failures)} input(s) could be read (listed above)", file=sys.stderr)
        raise SystemExit(report.exit_code)
    return report


if __name__ == "__main__":
    main()
