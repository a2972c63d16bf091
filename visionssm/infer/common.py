"""Pieces every folder runner shares: device choice, autocast, the run report, the progress bar."""
import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import torch

__all__ = ["InferenceReport", "autocast", "progress", "resolve_device"]


def resolve_device(device: Union[str, torch.device, None] = "auto") -> torch.device:
    """``'auto'``/None: the first CUDA GPU, else Apple MPS, else CPU; anything else is passed to torch.device."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device {device}: CUDA is not available here; use --device cpu or auto")
    return dev


def autocast(device: torch.device, enabled: bool):
    """Mixed precision when ``enabled``: float16 on CUDA, bfloat16 elsewhere (CPU has no fast float16)."""
    if not enabled:
        return contextlib.nullcontext()
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


def progress(total: int, desc: str, enabled: bool = True):
    """tqdm bar in images (its rate is the throughput in img/s)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, dynamic_ncols=True)


@dataclass
class InferenceReport:
    """What a run did: inputs predicted (and taken over from an earlier run by ``--resume``), files written,
    inputs skipped with the reason, and the speed. Every task's folder runner returns one."""

    task: str
    num_inputs: int = 0
    num_predicted: int = 0
    num_resumed: int = 0
    written: List[str] = field(default_factory=list)
    failures: List[Tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    extra: Dict[str, Any] = field(default_factory=dict)
    _start: float = field(default_factory=time.perf_counter, repr=False)

    def fail(self, path: Union[str, Path], reason: str) -> None:
        self.failures.append((str(path), reason))
        print(f"skipped {path}: {reason}", file=sys.stderr)

    def finish(self) -> "InferenceReport":
        self.seconds = time.perf_counter() - self._start
        return self

    @property
    def throughput(self) -> float:
        return self.num_predicted / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """1 when there was input but none of it could be predicted (all unreadable), else 0."""
        return 1 if self.num_predicted + self.num_resumed == 0 and self.failures else 0

    def summary(self) -> str:
        resumed = f" (+{self.num_resumed} from the earlier run)" if self.num_resumed else ""
        lines = [f"{self.task}: {self.num_predicted}/{self.num_inputs} image(s) predicted{resumed} in "
                 f"{self.seconds:.1f}s ({self.throughput:.1f} img/s), {len(self.written)} file(s) written"]
        for k, v in self.extra.items():
            lines.append(f"  {k}: {v:.2f}" if isinstance(v, float) else f"  {k}: {v}")
        if self.failures:
            lines.append(f"  {len(self.failures)} input(s) skipped:")
            lines += [f"    {p}: {r}" for p, r in self.failures]
        return "\n".join(lines)

    def as_dict(self) -> Dict[str, Any]:
        return {"task": self.task, "num_inputs": self.num_inputs, "num_predicted": self.num_predicted,
                "num_resumed": self.num_resumed, "seconds": round(self.seconds, 3),
                "images_per_second": round(self.throughput, 2),
                "failures": [{"path": p, "reason": r} for p, r in self.failures], **self.extra}


def load_any_checkpoint(path: Union[str, Path]) -> dict:
    """Safe load (weights_only / safetensors) of ours, timm's, an official release or an mmengine Runner
    checkpoint (whose extra pickled types are allow-listed by ``visionssm.mm`` when mmengine is installed)."""
    from visionssm.convert import load_checkpoint_file

    try:
        return load_checkpoint_file(path)
    except RuntimeError:
        try:
            from visionssm.mm.checkpoint_compat import allow_mmengine_checkpoints
        except ImportError:
            raise
        allow_mmengine_checkpoints()
        return load_checkpoint_file(path)
