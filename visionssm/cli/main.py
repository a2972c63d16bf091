"""The ``visionssm`` console command: one entry point over the tools.

    visionssm infer ...      predictions for image folders (classification, segmentation, detection, change det.)
    visionssm train CFG      mmengine training (same flags as tools/train.py)
    visionssm test CFG CKPT  evaluation (same flags as tools/test.py)
    visionssm convert ...    official checkpoint → safetensors + timm config.json
    visionssm benchmark ...  params / FLOPs / throughput / memory (tools/benchmark.py)
    visionssm cards ...      regenerate model_cards/ (tools/make_model_cards.py)
    visionssm digits [DIR]   export scikit-learn's digits for the quickstart (tools/prepare_digits.py)
    visionssm export ...     model or config (+ checkpoint) → model.onnx, checked in onnxruntime (tools/export.py)
    visionssm quantize ...   dynamic int8 Linear layers, PyTorch and ONNX, accuracy and speed (tools/quantize.py)

Each subcommand forwards its remaining arguments to the module's own ``main(argv)`` (``--help`` works there).
"""
import importlib
import sys
from typing import List, Optional

__all__ = ["COMMANDS", "main"]

# name → (module, help); modules are imported only when their command runs
COMMANDS = {
    "infer": ("visionssm.cli.infer", "predictions for a folder, an image or a folder pair"),
    "train": ("visionssm.cli.train", "train a config with mmengine's Runner"),
    "test": ("visionssm.cli.test", "evaluate a checkpoint on a config's test set"),
    "convert": ("visionssm.cli.convert", "official checkpoint -> safetensors + timm config.json"),
    "benchmark": ("visionssm.benchmark", "parameters, FLOPs, throughput and memory"),
    "cards": ("visionssm.cards", "generate the model cards"),
    "digits": ("visionssm.cli.digits", "export scikit-learn's handwritten digits as an image folder"),
    "export": ("visionssm.cli.export", "model or config (+ checkpoint) -> model.onnx, checked in onnxruntime"),
    "quantize": ("visionssm.cli.quantize", "dynamic int8 Linear layers (PyTorch or ONNX), accuracy and speed"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: visionssm <command> [args...]   (visionssm <command> --help for its options)", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from visionssm import __version__

        print(f"visionssm {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"visionssm: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        raise SystemExit(2)
    module = importlib.import_module(COMMANDS[name][0])
    sys.argv = [f"visionssm {name}", *rest]  # argparse in train/test/benchmark names the command in --help
    if name in ("train", "test"):  # a bad config key or checkpoint: one error line and exit code 1
        from visionssm.cli.train import cli_entry
        return cli_entry(lambda: module.main(rest))
    result = module.main(rest)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
