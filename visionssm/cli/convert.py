"""``visionssm convert`` / ``tools/convert.py``: an official release checkpoint → a timm-loadable folder.

Writes ``<out>/model.safetensors`` and ``<out>/config.json`` (timm's Hugging Face layout: ``architecture``,
``num_classes``, ``model_args``, ``pretrained_cfg``), so ``timm.create_model('local-dir:<out>', pretrained=True)``
(after ``import visionssm``) rebuilds the model with the converted weights.

    visionssm convert vssm1_tiny_0230s_ckpt_epoch_264.pth --family vmamba \\
        --official-kwargs '{"depths": [2, 2, 8, 2], "dims": 96, "ssm_d_state": 1, ...}' \\
        --model vmamba_tiny_s1l8 --out-dir converted/vmamba_tiny_s1l8
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

__all__ = ["convert", "main"]


def _read_kwargs(text: str) -> Dict[str, Any]:
    try:
        return json.loads(text if text.lstrip().startswith("{") else Path(text).read_text())
    except json.JSONDecodeError as e:
        raise SystemExit(f"expected JSON text or a .json file, got {text[:80]!r}: {e}") from None
    except OSError as e:
        raise SystemExit(f"cannot read the JSON file {text!r}: {e}") from None


def convert(checkpoint: str, family: str, official_kwargs: Dict[str, Any], model_name: str, out_dir: str,
            model_args: Optional[Dict[str, Any]] = None, overwrite: bool = False, check: bool = True) -> Path:
    """Convert (strict), load into ``timm.create_model(model_name, **model_args)`` (strict: the registered
    variant must match the checkpoint), check both give the same output, and write the folder."""
    import timm
    import torch
    from safetensors.torch import save_file

    import visionssm  # noqa: F401
    from visionssm.convert import from_official, load_state_dict_strict
    from visionssm.infer.outputs import check_writable

    out = Path(out_dir)
    check_writable([out / "model.safetensors", out / "config.json"], overwrite)
    ours = from_official(family, official_kwargs, checkpoint).eval()
    sd = {k: v.detach().contiguous() for k, v in ours.state_dict().items()}
    args = dict(model_args or {})
    if "num_classes" not in args:
        args["num_classes"] = int(getattr(ours, "num_classes", 1000))
    model = timm.create_model(model_name, pretrained=False, **args).eval()
    load_state_dict_strict(model, sd, source=f"{checkpoint} converted as {family}")
    if check:
        size = model.pretrained_cfg.get("input_size", (3, 224, 224))
        x = torch.randn(1, *size, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            err = (model(x) - ours(x)).abs().max().item()
        if err > 1e-4:
            raise RuntimeError(f"{model_name}{args} and the converted official model disagree (max abs {err:.2e}); "
                               "pass the --model-args that match --official-kwargs")
    out.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    cfg = {k: v for k, v in model.pretrained_cfg.items() if k not in ("url", "hf_hub_id", "file", "source")
           and not callable(v)}
    config = {"architecture": model_name, "num_classes": args["num_classes"],
              "num_features": int(getattr(model, "num_features", 0)),
              "model_args": {k: v for k, v in args.items() if k != "num_classes"}, "pretrained_cfg": cfg}
    (out / "config.json").write_text(json.dumps(config, indent=2, default=list) + "\n")
    return out


def main(argv: Optional[List[str]] = None, prog: str = "visionssm convert"):
    from visionssm.convert import CheckpointError, list_families

    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("checkpoint", help="official checkpoint (.pth / .safetensors)")
    p.add_argument("--family", required=True, choices=list_families(), help="official code base (visionssm.convert)")
    p.add_argument("--official-kwargs", required=True, help="official constructor kwargs: JSON text or a .json file")
    p.add_argument("--model", required=True, help="our registered name the weights fit, e.g. vmamba_tiny_s1l8")
    p.add_argument("--model-args", default="{}", help="extra timm.create_model kwargs (JSON), e.g. num_classes")
    p.add_argument("--out-dir", required=True, help="folder for model.safetensors + config.json")
    p.add_argument("--overwrite", action="store_true", help="replace an existing conversion")
    p.add_argument("--no-check", action="store_true", help="skip the output comparison")
    a = p.parse_args(argv)
    try:
        out = convert(a.checkpoint, a.family, _read_kwargs(a.official_kwargs), a.model, a.out_dir,
                      _read_kwargs(a.model_args), a.overwrite, not a.no_check)
    except CheckpointError as e:  # one line naming the file and the fix, no traceback
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"wrote {out}/model.safetensors and config.json; load with "
          f"timm.create_model('local-dir:{out}', pretrained=True) after `import visionssm`")
    return out


if __name__ == "__main__":
    main()
