"""ONNX export benchmark (CPU): export time, node count, file size, onnxruntime error and throughput vs eager.

    python benchmarks/export_cpu.py speed [--models vmamba_tiny_s1l8 vmamba_tiny vim_small] [--batches 1 8]
    python benchmarks/export_cpu.py sweep [--models ...]       # every registered variant at its default size
    python benchmarks/export_cpu.py dense                      # UperNet, change detection, medical U-Net

Each mode appends JSON lines to ``--out`` (default benchmarks/export_cpu.jsonl); EXPORT.md quotes them.
Throughput is the best of ``--rounds`` timed runs after a warm-up, eager and onnxruntime interleaved so machine
load hits both alike; neither runtime's threads spin-wait (OMP_WAIT_POLICY=PASSIVE, onnxruntime allow_spinning=0):
on a shared machine spinning workers measured 2x (onnxruntime) to 30x (PyTorch/OpenMP) slower.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# OpenMP workers that spin-wait made eager PyTorch 30-50x slower on this shared 2-core machine (8.8 s vs 0.24 s per
# image under load ~8); both runtimes here wait passively (onnxruntime: allow_spinning=0 in ort_session)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import timm  # noqa: E402
import torch  # noqa: E402

import visionssm  # noqa: E402,F401
from visionssm.export.onnx import export_onnx, flat_outputs, ort_session, verify_onnx  # noqa: E402

SPEED_MODELS = ["vmamba_tiny_s1l8", "vmamba_tiny", "vim_small"]


def _record(out: Path, row: dict) -> None:
    print(json.dumps(row), flush=True)
    with out.open("a") as f:
        f.write(json.dumps(row) + "\n")


def _export(model, size, path):
    x = torch.randn(1, *size)
    report = export_onnx(model, path, x)
    report.max_abs_err, _ = verify_onnx(model, report.path, torch.randn(2, *size))
    return report


def speed(models, batches, rounds, out: Path):
    threads = torch.get_num_threads()
    for name in models:
        model = timm.create_model(name).eval()
        size = tuple(model.pretrained_cfg["input_size"])
        with tempfile.TemporaryDirectory() as tmp:
            report = _export(model, size, Path(tmp) / "model.onnx")
            session = ort_session(report.path, threads=threads)
            for batch in batches:
                x = torch.randn(batch, *size)
                feed = {session.get_inputs()[0].name: x.numpy()}
                with torch.no_grad():
                    model(x)
                    session.run(None, feed)
                    eager = ort = float("inf")
                    for _ in range(rounds):
                        t = time.perf_counter()
                        model(x)
                        eager = min(eager, time.perf_counter() - t)
                        t = time.perf_counter()
                        session.run(None, feed)
                        ort = min(ort, time.perf_counter() - t)
                _record(out, {"mode": "speed", "model": name, "batch": batch, "input": size[1:],
                              "eager_img_s": round(batch / eager, 2), "ort_img_s": round(batch / ort, 2),
                              "ratio": round(eager / ort, 3), "nodes": report.nodes, "size_mb": round(report.size_mb, 1),
                              "export_s": round(report.export_s, 1), "max_abs_err": report.max_abs_err,
                              "threads": threads, "load": os.getloadavg()[0]})


def sweep(models, out: Path):
    from visionssm.models import registered_model_names

    for name in models or registered_model_names():
        model = timm.create_model(name).eval()
        size = tuple(model.pretrained_cfg["input_size"])
        with tempfile.TemporaryDirectory() as tmp:
            report = _export(model, size, Path(tmp) / "model.onnx")
        _record(out, {"mode": "sweep", "model": name, "input": size[1:], "nodes": report.nodes,
                      "size_mb": round(report.size_mb, 1), "export_s": round(report.export_s, 1),
                      "max_abs_err": report.max_abs_err, "load": os.getloadavg()[0]})


def _dense_models():
    """(name, model, example inputs): UperNet (mmseg) on VMamba, MambaBCD change detection, a medical U-Net."""
    from mmengine.registry import init_default_scope

    import visionssm.mm  # noqa: F401
    init_default_scope("visionssm")
    from mmengine.config import Config
    from mmengine.registry import MODELS

    root = Path(__file__).resolve().parents[1] / "configs"
    cfg = Config.fromfile(str(root / "segmentation" / "upernet_vmamba-tiny-s1l8_4xb4-160k_ade20k-512x512.py"))
    cfg.model.backbone.pretrained = False  # random weights: the graph and its error do not depend on them
    seg = MODELS.build(cfg.model).eval()

    class Tensor(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, *x):
            return self.m(*x, mode="tensor") if len(x) == 1 else self.m(*x)

    # PPM pools to 1, 2, 3, 6: the exporter needs the stride-32 map to be a multiple of 6 (input 384, 576, ...)
    yield "upernet_vmamba_tiny_s1l8 (mmseg)", Tensor(seg), (torch.randn(1, 3, 384, 384),)
    from visionssm.changedet.models import build_change_model

    cd = build_change_model("mamba_bcd", size="tiny").eval()
    yield "mambabcd_tiny (change detection)", cd, (torch.randn(1, 3, 256, 256), torch.randn(1, 3, 256, 256))
    from visionssm.medical.models import create_medical_model

    med = create_medical_model("vm_unet").eval()
    yield "vm_unet (medical)", med, (torch.randn(1, 3, 256, 256),)


def dense(out: Path, only=None):
    for name, model, inputs in _dense_models():
        if only and not any(name.startswith(o) for o in only):
            continue
        dynamic = True
        with tempfile.TemporaryDirectory() as tmp:
            try:
                report = export_onnx(model, Path(tmp) / "model.onnx", inputs)
            except torch.onnx.errors.SymbolicValueError as e:  # e.g. PPM's adaptive pooling needs static sizes
                print(f"{name}: dynamic batch failed ({str(e)[:120]}...); fixed batch", flush=True)
                dynamic = False
                report = export_onnx(model, Path(tmp) / "model.onnx", inputs, dynamic_batch=False)
            check = tuple(torch.randn_like(t) for t in inputs)
            if dynamic:
                check = tuple(torch.cat([t, torch.randn_like(t)]) for t in inputs)
            report.max_abs_err, _ = verify_onnx(model, report.path, check)
        with torch.no_grad():
            shapes = [tuple(t.shape) for t in flat_outputs(model(*inputs))]
        _record(out, {"mode": "dense", "model": name, "input": list(inputs[0].shape[2:]), "outputs": shapes, "dynamic_batch": dynamic,
                      "nodes": report.nodes, "size_mb": round(report.size_mb, 1), "export_s": round(report.export_s, 1),
                      "max_abs_err": report.max_abs_err})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["speed", "sweep", "dense"])
    p.add_argument("--models", nargs="*")
    p.add_argument("--batches", type=int, nargs="*", default=[1, 8])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path(__file__).with_name("export_cpu.jsonl"))
    a = p.parse_args()
    if a.mode == "speed":
        speed(a.models or SPEED_MODELS, a.batches, a.rounds, a.out)
    elif a.mode == "sweep":
        sweep(a.models, a.out)
    else:
        dense(a.out, a.models)


if __name__ == "__main__":
    main()
