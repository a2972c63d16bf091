"""``visionssm export`` / ``tools/export.py``: any registered model or config (+ checkpoint) → ``model.onnx``.

The file has a dynamic batch axis, passes ``onnx.checker`` and is verified in onnxruntime against the eager model on a
random batch (the max error is printed). The selective scan becomes standard ONNX ops (no custom domain).

    visionssm export vmamba_tiny_s1l8 --checkpoint model.safetensors --out model.onnx
    visionssm export configs/classification/digits_vmamba.py --checkpoint work_dirs/digits/epoch_5.pth
    visionssm export configs/segmentation/upernet_vmamba_tiny_ade20k.py --checkpoint seg.pth --input-size 512 512

Dense-prediction configs export the network up to its raw outputs (segmentation logits, change maps, detection head
scores and boxes before NMS): post-processing stays outside the graph.
"""
import argparse
from pathlib import Path
from typing import List, Optional, Tuple

import torch

__all__ = ["build_for_export", "main"]


class _TensorMode(torch.nn.Module):
    """An mm model (mmseg/mmdet/change detection) called as ``model(inputs, mode='tensor')``: raw outputs."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        return self.model(x, mode="tensor")


def _fail(message: str):
    raise SystemExit(f"visionssm export: {message}")


def build_for_export(model: str, checkpoint: Optional[str] = None, num_classes: Optional[int] = None,
                     input_size: Optional[Tuple[int, int]] = None):
    """(eval model, (C, H, W)) from a registered name or a config, with the checkpoint's weights."""
    if checkpoint is not None and not Path(checkpoint).is_file():
        _fail(f"checkpoint {checkpoint} not found; pass the .pth/.safetensors file training or convert wrote.")
    if model.endswith(".py"):
        if not Path(model).is_file():
            _fail(f"config {model} not found.")
        try:
            from mmengine.config import Config
        except ImportError:
            _fail("exporting from a config needs mmengine: pip install 'visionssm[mm]'.")
        cfg = Config.fromfile(model)
        if str(cfg.model.get("type", "")).endswith("TimmClassifier"):
            from visionssm.infer.classify import Classifier

            clf = Classifier.from_config(model, checkpoint, device="cpu")
            net, size = clf.model, tuple(clf.data_config["input_size"])
        else:
            if checkpoint is None:
                _fail(f"{model} is a dense-prediction config; pass --checkpoint (the weights to export).")
            from mmengine.registry import MODELS, init_default_scope
            from mmengine.runner import load_checkpoint

            import visionssm.mm  # noqa: F401  (registers our modules)

            init_default_scope(cfg.get("default_scope", "visionssm"))
            net = MODELS.build(cfg.model)
            load_checkpoint(net, checkpoint, map_location="cpu")
            net = _TensorMode(net)
            size = (3, 512, 512)
        if input_size:
            size = (size[0], *input_size)
        return net.eval().float(), size
    import timm

    import visionssm  # noqa: F401  (registers our models)
    from visionssm.models import registered_model_names

    if model not in registered_model_names():
        _fail(f"unknown model {model!r}; choose a registered name (python -c \"import visionssm.models as m; "
              f"print(m.registered_model_names())\") or a config .py file.")
    if checkpoint is None:
        net = timm.create_model(model, num_classes=num_classes or 1000)
    else:
        from visionssm.infer.classify import Classifier

        net = Classifier.from_name(model, checkpoint, num_classes=num_classes, device="cpu").model
    size = tuple(net.pretrained_cfg.get("input_size", (3, 224, 224)))
    if input_size:
        size = (size[0], *input_size)
    return net.eval().float(), size


def main(argv: Optional[List[str]] = None, prog: str = "visionssm export"):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("model", help="registered model name (e.g. vmamba_tiny_s1l8) or a config .py")
    p.add_argument("--checkpoint", help="weights (ours, timm's, mmengine's or an official release); random without")
    p.add_argument("--out", default="model.onnx", help="output file (default model.onnx)")
    p.add_argument("--num-classes", type=int, help="classifier head size when no checkpoint says it")
    p.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), help="export size (default: the model's)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")
    p.add_argument("--dynamo", action="store_true", help="use the torch.export-based exporter instead of tracing")
    p.add_argument("--no-verify", action="store_true", help="skip the onnxruntime-vs-eager check")
    a = p.parse_args(argv)
    from visionssm.export.onnx import DEFAULT_OPSET, export_onnx, verify_onnx

    net, size = build_for_export(a.model, a.checkpoint, a.num_classes, tuple(a.input_size) if a.input_size else None)
    opset = a.opset or DEFAULT_OPSET
    print(f"exporting {a.model} at {size[1]}x{size[2]} with ONNX opset {opset} (dynamic batch axis)")
    gen = torch.Generator().manual_seed(0)
    report = export_onnx(net, a.out, torch.randn(1, *size, generator=gen), opset=opset, dynamo=a.dynamo)
    if not a.no_verify:
        report.max_abs_err, _ = verify_onnx(net, report.path, torch.randn(2, *size, generator=gen))
    print(report.summary())
    print("onnx.checker: passed")
    if report.max_abs_err is not None:
        print(f"onnxruntime vs eager on a random batch of 2: max abs error {report.max_abs_err:.2e}")
    return report


if __name__ == "__main__":
    main(prog="python -m visionssm.cli.export")
