"""``visionssm quantize`` / ``tools/quantize.py``: dynamic int8 Linear layers (scan, Δ, A, D and norms float32).

Writes the int8 PyTorch weights (``--out``, load with ``quantize_int8(model)`` then ``load_state_dict``) and, with
``--onnx-out``, an int8 ONNX file (onnxruntime dynamic quantization of the exported float file). With ``--eval-dir``
(a folder of ``<class>/<image>``), reports held-out top-1 and CPU throughput of float32 vs int8 for both.

    visionssm quantize work_dirs/quickstart/vmamba-digits_1xb64_20e.py \\
        --checkpoint work_dirs/quickstart/best_accuracy_top1_epoch_20.pth --eval-dir data/digits/val \\
        --out digits_int8.pt --onnx-out digits_int8.onnx
"""
import argparse
import copy
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch

__all__ = ["evaluate", "main", "throughput"]


def _load_folder(root: str, transform, class_names: List[str]) -> Tuple[torch.Tensor, torch.Tensor]:
    """All images of ``root/<class>/*`` as one batch (small held-out sets), labels by class name."""
    from PIL import Image

    from visionssm.infer.io import list_images, read_image

    base, files = list_images(root, recursive=True)
    if not files:
        raise SystemExit(f"visionssm quantize: no images under {root}; pass a folder of <class>/<image> files.")
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({f.parent.name for f in files} - set(index))
    if unknown:
        raise SystemExit(f"visionssm quantize: folders {unknown[:5]} in {root} are not classes of the model "
                         f"({class_names[:10]}...); pass a folder of <class>/<image> files.")
    images = torch.stack([transform(Image.fromarray(read_image(f))) for f in files])
    return images, torch.tensor([index[f.parent.name] for f in files])


def evaluate(fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, labels: torch.Tensor,
             batch_size: int = 64) -> float:
    """Top-1 accuracy (%) of ``fn`` (images → logits)."""
    correct = 0
    for i in range(0, len(images), batch_size):
        correct += int((fn(images[i:i + batch_size]).argmax(-1) == labels[i:i + batch_size]).sum())
    return 100.0 * correct / len(images)


def throughput(fn: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, rounds: int = 5) -> float:
    """Images per second, best of ``rounds`` after one warm-up (robust on a shared machine)."""
    fn(batch)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn(batch)
        best = min(best, time.perf_counter() - start)
    return len(batch) / best


def _ort_fn(path: Path) -> Callable[[torch.Tensor], torch.Tensor]:
    from visionssm.export.onnx import ort_session

    session = ort_session(path)
    name = session.get_inputs()[0].name
    return lambda x: torch.from_numpy(session.run(None, {name: x.numpy()})[0])


def main(argv: Optional[List[str]] = None, prog: str = "visionssm quantize"):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("model", help="registered classifier name or a classification config .py")
    p.add_argument("--checkpoint", help="trained weights")
    p.add_argument("--num-classes", type=int, help="head size when no checkpoint says it")
    p.add_argument("--out", help="int8 PyTorch state dict (.pt)")
    p.add_argument("--onnx-out", help="int8 ONNX file (also exports the float32 ONNX file next to it)")
    p.add_argument("--eval-dir", help="held-out <class>/<image> folder: accuracy and throughput, float32 vs int8")
    p.add_argument("--batch-size", type=int, default=64, help="throughput batch (default 64)")
    a = p.parse_args(argv)

    from visionssm.export.quantize import int8_linear_count, quantize_int8

    clf = _classifier(a.model, a.checkpoint, a.num_classes)
    net, size = clf.model.eval().float(), tuple(clf.data_config["input_size"])
    torch.set_grad_enabled(False)
    q = quantize_int8(net)
    print(f"int8: {int8_linear_count(q)} Linear/pointwise layers quantized; scan, dt projection, A, D, norms float32")
    if a.out:
        torch.save(q.state_dict(), a.out)
        print(f"wrote {a.out}")
    onnx_paths: Dict[str, Path] = {}
    if a.onnx_out:
        from visionssm.export.onnx import export_onnx
        from visionssm.export.quantize import pointwise_convs_to_linear, quantize_onnx_int8

        fp32 = Path(a.onnx_out).with_name(Path(a.onnx_out).stem + "_fp32.onnx")
        # the pointwise convs as MatMul nodes, the layers onnxruntime's dynamic quantization handles
        export_onnx(pointwise_convs_to_linear(copy.deepcopy(net)), fp32, torch.randn(1, *size))
        onnx_paths = {"float32": fp32, "int8": quantize_onnx_int8(fp32, a.onnx_out)}
        print(f"wrote {fp32} and {a.onnx_out}")
    if a.eval_dir:
        names = clf.class_names
        images, labels = _load_folder(a.eval_dir, clf.transform, names)
        runs = {"PyTorch float32": net, "PyTorch int8": q}
        runs.update({f"onnxruntime {k}": _ort_fn(v) for k, v in onnx_paths.items()})
        batch = images[: a.batch_size]
        rows = []
        for label, fn in runs.items():
            rows.append((label, evaluate(fn, images, labels), throughput(fn, batch)))
        base_acc, base_ips = rows[0][1], rows[0][2]
        print(f"held-out: {len(images)} images from {a.eval_dir}; throughput batch {len(batch)}, "
              f"{torch.get_num_threads()} threads")
        for label, acc, ips in rows:
            print(f"  {label:22s} top-1 {acc:6.2f}% ({acc - base_acc:+.2f})  {ips:8.1f} img/s ({ips / base_ips:.2f}x)")
    return q


def _classifier(model: str, checkpoint: Optional[str], num_classes: Optional[int]):
    """The model with its evaluation preprocessing (a config's test pipeline, or the model's pretrained_cfg)."""
    from visionssm.infer.classify import Classifier
    from visionssm.models import registered_model_names

    if checkpoint is not None and not Path(checkpoint).is_file():
        raise SystemExit(f"visionssm quantize: checkpoint {checkpoint} not found.")
    if model.endswith(".py"):
        if not Path(model).is_file():
            raise SystemExit(f"visionssm quantize: config {model} not found.")
        return Classifier.from_config(model, checkpoint, device="cpu")
    if model not in registered_model_names():
        raise SystemExit(f"visionssm quantize: unknown model {model!r}; pass a registered name or a config .py.")
    return Classifier.from_name(model, checkpoint, num_classes=num_classes, device="cpu")


if __name__ == "__main__":
    main(prog="python -m visionssm.cli.quantize")
