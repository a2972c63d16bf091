"""Image classification over folders: a timm model (ours or timm's) from a registered name or a training config,
preprocessed exactly as its pretrained config (or the config's test pipeline) says, never with hard-coded stats."""
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import torch

from .common import InferenceReport, autocast, load_any_checkpoint, progress, resolve_device
from .io import ImageReadError, list_images, read_image
from .outputs import RunDir, class_name, contact_sheet

__all__ = ["Classifier", "classify_folder", "sheet_caption"]

_TRAIN_ONLY_KEYS = ("type", "num_classes", "mixup", "label_smoothing", "data_preprocessor", "init_cfg")


def _class_names_from(checkpoint: Any) -> Optional[List[str]]:
    if isinstance(checkpoint, dict):
        meta = checkpoint.get("meta") or {}
        classes = (meta.get("dataset_meta") or {}).get("classes") if isinstance(meta, dict) else None
        if classes:
            return [str(c) for c in classes]
    return None


def _state_dict_for(model: torch.nn.Module, raw: dict, source: str) -> Dict[str, torch.Tensor]:
    from visionssm.convert import unwrap_state_dict

    sd = unwrap_state_dict(raw)
    if sd and all(k.startswith("model.") for k in sd):  # mmengine TimmClassifier checkpoint
        sd = {k[len("model."):]: v for k, v in sd.items()}
    own = set(model.state_dict())
    # mostly our own key names: the strict loader names what differs; otherwise an official release, which the
    # family's timm filter maps onto ours (its error, if any, is the one message)
    if len(set(sd) & own) < len(sd) / 2:
        filter_fn = getattr(sys.modules.get(type(model).__module__), "checkpoint_filter_fn", None)
        if filter_fn is not None:
            try:
                sd = filter_fn(sd, model)
            except Exception as e:
                from visionssm.convert import CheckpointError

                raise CheckpointError(f"{source}: not in {type(model).__name__}'s key names, and converting it as an "
                                   f"official release failed: {e}") from e
    return sd


def _num_classes_in(sd: Dict[str, torch.Tensor], model_name: str) -> Optional[int]:
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name)
    head = getattr(cfg, "classifier", None) if cfg is not None else None
    for key in ([f"{head}.weight"] if head else []) + ["head.fc.weight", "head.weight", "fc.weight"]:
        w = sd.get(key) if isinstance(sd, dict) else None
        if isinstance(w, torch.Tensor):
            return int(w.shape[0])
    return None


class Classifier:
    """A timm classifier plus its eval transform and class names; ``predict`` returns top-k per image.

    Build with :meth:`from_name` (registered name [+ checkpoint]) or :meth:`from_config` (an mmengine
    classification config + the checkpoint ``tools/train.py`` wrote).
    """

    def __init__(self, model: torch.nn.Module, data_config: Dict[str, Any], class_names: Optional[Sequence[str]] = None,
                 device: Union[str, torch.device, None] = "auto", amp: bool = False):
        from timm.data import create_transform

        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.data_config = dict(data_config)
        self.transform = create_transform(**self.data_config, is_training=False)
        n = getattr(model, "num_classes", None) or 0
        self.class_names = list(class_names) if class_names else [str(i) for i in range(n)]
        if n and len(self.class_names) != n:
            raise ValueError(f"{len(self.class_names)} class names for a {n}-class model; fix --class-map")
        self.amp = amp

    @classmethod
    def from_name(cls, model_name: str, checkpoint: Optional[str] = None, num_classes: Optional[int] = None,
                  pretrained: bool = False, class_names: Optional[Sequence[str]] = None,
                  model_kwargs: Optional[Dict[str, Any]] = None, data_overrides: Optional[Dict[str, Any]] = None,
                  device: Union[str, torch.device, None] = "auto", amp: bool = False) -> "Classifier":
        """``timm.create_model(model_name)``; with ``checkpoint`` (ours, timm's, mmengine's or the official
        release) the weights and, when the checkpoint knows them, the class count and names come from it."""
        import timm
        from timm.data import resolve_data_config

        import visionssm  # noqa: F401  (registers our models)
        from visionssm.convert import load_state_dict_strict

        kwargs = dict(model_kwargs or {})
        raw, sd = None, None
        if checkpoint is not None:
            raw = load_any_checkpoint(checkpoint)
            if num_classes is None:
                from visionssm.convert import unwrap_state_dict

                sd0 = unwrap_state_dict(raw)
                sd0 = {k[len("model."):] if k.startswith("model.") else k: v for k, v in sd0.items()}
                num_classes = _num_classes_in(sd0, model_name)
            class_names = class_names or _class_names_from(raw)
        if num_classes is not None:
            kwargs["num_classes"] = num_classes
        model = timm.create_model(model_name, pretrained=pretrained and checkpoint is None, **kwargs)
        if raw is not None:
            sd = _state_dict_for(model, raw, str(checkpoint))
            load_state_dict_strict(model, sd, source=str(checkpoint))
        data_config = resolve_data_config(dict(data_overrides or {}), model=model)
        return cls(model, data_config, class_names, device, amp)

    @classmethod
    def from_config(cls, config: Union[str, Path], checkpoint: Optional[str] = None,
                    class_names: Optional[Sequence[str]] = None, data_overrides: Optional[Dict[str, Any]] = None,
                    device: Union[str, torch.device, None] = "auto", amp: bool = False) -> "Classifier":
        """Model from ``model=dict(type='visionssm.TimmClassifier', model_name=..., ...)``; preprocessing from the
        config's test pipeline (``TimmClsTransform`` arguments), so inference sees what validation saw."""
        try:
            from mmengine.config import Config
        except ImportError as e:
            raise ImportError("reading a config needs mmengine: pip install 'visionssm[mm]'") from e
        cfg = Config.fromfile(str(config))
        m = dict(cfg.model)
        if not str(m.get("type", "")).endswith("TimmClassifier"):
            raise ValueError(f"{config}: model type {m.get('type')!r} is not a classifier (TimmClassifier); "
                             "use --task seg/det for dense-prediction configs")
        name = m.pop("model_name")
        num_classes = m.get("num_classes")
        kwargs = {k: v for k, v in m.items() if k not in _TRAIN_ONLY_KEYS}
        kwargs.pop("drop_path_rate", None)
        overrides = _pipeline_data_config(cfg)
        overrides.update(data_overrides or {})
        if class_names is None and checkpoint is None:
            class_names = (cfg.get("test_dataloader") or {}).get("dataset", {}).get("metainfo", {}).get("classes")
        return cls.from_name(name, checkpoint, num_classes=num_classes, class_names=class_names, model_kwargs=kwargs,
                             data_overrides=overrides, device=device, amp=amp)

    @torch.inference_mode()
    def predict(self, batch: torch.Tensor, topk: int = 5):
        """(scores, indices), each (B, k): softmax probabilities of the k best classes."""
        with autocast(self.device, self.amp):
            logits = self.model(batch.to(self.device, non_blocking=True))
        probs = logits.float().softmax(-1)
        return probs.topk(min(topk, probs.shape[-1]), dim=-1)


def _pipeline_data_config(cfg) -> Dict[str, Any]:
    """timm data-config keys from the ``TimmClsTransform`` in the config's test (else val) pipeline."""
    for loader in ("test_dataloader", "val_dataloader"):
        pipeline = ((cfg.get(loader) or {}).get("dataset") or {}).get("pipeline") or []
        for step in pipeline:
            if str(step.get("type", "")).endswith("TimmClsTransform"):
                size = step.get("input_size", 224)
                size = (3, size, size) if isinstance(size, int) else (3, *tuple(size)[-2:])
                out = {"input_size": size, "interpolation": step.get("interpolation", "bicubic")}
                for key in ("crop_pct", "crop_mode", "mean", "std"):
                    if step.get(key) is not None:
                        out[key] = tuple(step[key]) if isinstance(step[key], (list, tuple)) else step[key]
                return out
    return {}


class _Images(torch.utils.data.Dataset):
    """Read + transform in DataLoader workers; an unreadable file yields its error instead of a tensor."""

    def __init__(self, files: Sequence[Path], transform):
        self.files, self.transform = list(files), transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        from PIL import Image

        try:
            return i, self.transform(Image.fromarray(read_image(self.files[i]))), None
        except ImageReadError as e:
            return i, None, e.reason
        except Exception as e:  # a transform failure on an odd image is also one file's problem
            return i, None, f"{type(e).__name__}: {e}"


def classify_folder(classifier: Classifier, inputs: Union[str, Path], out_dir: Union[str, Path], *,
                    topk: int = 5, batch_size: int = 32, num_workers: int = 0, overwrite: bool = False,
                    resume: bool = False, recursive: bool = True, save_sheet: bool = True, sheet_max: int = 100,
                    gt_from_parent: bool = False, show_progress: bool = True) -> InferenceReport:
    """Classify every image under ``inputs`` (a folder, recursively, or one file) and write to ``out_dir``:

    - ``predictions.jsonl``: one line per image, appended after every batch (what an interrupted run keeps;
      ``resume=True`` skips the images already in it);
    - ``predictions.json``: run summary (model, preprocessing, failures, speed) + per image the top-k
      ``{label, name, score}``;
    - ``predictions.csv``: one row per image: ``path, label, name, score, top{i}_name, top{i}_score``;
    - ``contact_sheet.png``: ``sheet_max`` images spread evenly over the run, captioned ``name | score`` (green /
      red against the parent folder name when ``gt_from_parent``, which also reports accuracy; a wrong one also
      shows ``true <name>``).

    Unreadable files are skipped and listed; existing outputs raise unless ``overwrite`` or ``resume``.
    """
    if topk < 1 or batch_size < 1:
        raise ValueError(f"topk and batch_size must be >= 1, got topk={topk}, batch_size={batch_size}")
    links: List = []
    root, files = list_images(inputs, recursive=recursive, skipped=links)
    run = RunDir(out_dir, overwrite=overwrite, resume=resume,
                 summaries=("predictions.json", "predictions.csv", "contact_sheet.png"))
    out_dir = run.out_dir
    report = InferenceReport("classification", num_inputs=len(files))
    for path, reason in links:
        report.fail(path, reason)
    names = classifier.class_names
    rels = [f.relative_to(root).as_posix() for f in files]
    todo = [i for i, rel in enumerate(rels) if rel not in run.done]
    report.num_resumed = len(files) - len(todo)
    loader = torch.utils.data.DataLoader(_Images([files[i] for i in todo], classifier.transform),
                                         batch_size=batch_size, num_workers=num_workers, collate_fn=list,
                                         shuffle=False)
    new: Dict[str, Dict[str, Any]] = {}
    with progress(len(todo), "classify", show_progress) as bar:
        for batch in loader:
            ok = [(todo[j], x) for j, x, err in batch if err is None]
            for j, _, err in batch:
                if err is not None:
                    report.fail(files[todo[j]], err)
            done = []
            if ok:
                scores, idx = classifier.predict(torch.stack([x for _, x in ok]), topk)
                for (i, _), s, k in zip(ok, scores.tolist(), idx.tolist()):
                    rec = {"path": rels[i], "label": k[0], "name": class_name(names, k[0]), "score": round(s[0], 6),
                           "topk": [{"label": c, "name": class_name(names, c), "score": round(p, 6)} for c, p in zip(k, s)]}
                    if gt_from_parent:
                        rec["gt_name"] = files[i].parent.name
                        rec["correct"] = rec["name"] == rec["gt_name"]
                    done.append(rec)
            run.append(done)
            new.update((r["path"], r) for r in done)
            report.num_predicted = len(new)
            bar.update(len(batch))
    report.finish()
    records = [new.get(rel) or run.done[rel] for rel in rels if rel in new or rel in run.done]
    if gt_from_parent and records:
        report.extra["top1_accuracy"] = 100.0 * sum(bool(r.get("correct")) for r in records) / len(records)
    report.extra["model"] = getattr(classifier.model, "pretrained_cfg", {}).get("architecture", "") or \
        type(classifier.model).__name__
    meta = report.as_dict()
    meta["preprocessing"] = {k: list(v) if isinstance(v, tuple) else v for k, v in classifier.data_config.items()}
    meta["topk"] = topk
    fields = ["path", "label", "name", "score"] + [f"top{j}_{f}" for j in range(1, topk + 1) for f in ("name", "score")]
    if gt_from_parent:
        fields += ["gt_name", "correct"]
    rows = [dict(r, **{f"top{j}_{f}": t[f] for j, t in enumerate(r["topk"], 1) for f in ("name", "score")})
            for r in records]
    report.written += [run.write_json("predictions.json", {**meta, "predictions": records}),
                       run.write_csv("predictions.csv", rows, fields)]
    if save_sheet and records:
        step = max(len(records) / sheet_max, 1.0)  # evenly spaced over the run, so every folder/class shows up
        shown = [records[int(j * step)] for j in range(min(sheet_max, len(records)))]
        imgs = [read_image(root / r["path"]) for r in shown]
        caps = [sheet_caption(r) for r in shown]
        colours = [(0, 140, 0) if r.get("correct") else (200, 0, 0) for r in shown] if gt_from_parent else None
        report.written.append(run.save("contact_sheet.png", lambda tmp: contact_sheet(
            imgs, caps, caption_colours=colours).save(tmp)))
    return report


def sheet_caption(record: Dict[str, Any]) -> str:
    """``name | score`` (a separator, so label 1 at 0.93 cannot read as 10.93), plus ``true <name>`` on a second
    line when the true class is known and differs."""
    cap = f"{record['name']} | {record['score']:.2f}"
    if record.get("gt_name") is not None and not record.get("correct"):
        cap += f"\ntrue {record['gt_name']}"
    return cap
