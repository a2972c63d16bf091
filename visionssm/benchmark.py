"""Parameters, FLOPs, throughput and peak memory of visionssm models next to timm references.

FLOPs follow VMamba's convention so numbers compare with the published tables: fvcore-style counting (one
multiply-add = one FLOP) of everything ``torch.utils.flop_counter.FlopCounterMode`` sees, plus every selective
scan by ``scan_flops`` (``kernels/_common.py``): 9·B·L·D·N (+ B·D·L for D, + B·D·L for z), 7·B·L·D·N when the
scan returns hidden states (C=None). ``ScanFlopCounter`` is the one scan counter (``visionssm.medical`` uses it
too): it sees calls of the Python function through its hook list and calls of the ``torch.ops.visionssm``
custom op (also from compiled code) through FlopCounterMode; the scan's own inner ops are hidden, so the count
does not depend on the backend. Throughput runs all models in interleaved rounds (model A, B, C, A, B,
C, ...) and reports the median round, so drifting load on a shared machine hits every model alike; the ratio
to timm's ``convnext_tiny``, ``swin_tiny_patch4_window7_224`` and ``deit_small_patch16_224`` comes from the
same run.

Command line: ``python tools/benchmark.py --models vmamba_tiny_s1l8 "vmamba_tiny_s1l8:scan=hilbert" ...``
(see ``--help``).
"""
import argparse
import ast
import contextlib
import datetime
import gc
import importlib
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

REFERENCE_MODELS = ("convnext_tiny", "swin_tiny_patch4_window7_224", "deit_small_patch16_224")
MODES = ("infer", "train")
FLOPS_CONVENTION = ("fvcore/VMamba: multiply-add = 1 FLOP; selective scan 9*B*L*D*N (+B*D*L for D, +B*D*L for z); "
                    "hidden-state output (C=None): 7*B*L*D*N")
# timm references whose constructor needs the input size (fixed position embeddings / windows)
_NEEDS_IMG_SIZE = ("swin", "deit", "vit")


def _scan_module():
    # ``visionssm.kernels.selective_scan`` the attribute is the function; the hook list lives in the module
    return importlib.import_module("visionssm.kernels.selective_scan")


def scan_call_flops(info: Dict[str, Any]) -> int:
    """FLOPs of one selective-scan call (a hook's ``info`` dict of shapes) by VMamba's rule."""
    from visionssm.kernels._common import scan_flops
    return scan_flops(info["batch"], info["length"], info["channels"], info["state"], with_C=info["has_C"],
                      with_D=info["has_D"], with_z=info["has_z"])


def _scan_op():
    """``torch.ops.visionssm.selective_scan`` when the op is registered as a torch.library custom op, else None."""
    try:
        return torch.ops.visionssm.selective_scan
    except (AttributeError, RuntimeError):
        return None


def _op_flops(u, delta, A, B, C=None, D=None, z=None, *args, out_shape=None, **kwargs) -> int:
    """FlopCounterMode formula of the custom op: its arguments arrive as shapes (None where absent)."""
    C, D, z = kwargs.get("C", C), kwargs.get("D", D), kwargs.get("z", z)
    (batch, channels, length), state = u, A[1]
    from visionssm.kernels._common import scan_flops
    return scan_flops(batch, length, channels, state, with_C=C is not None, with_D=D is not None,
                      with_z=z is not None)


def flop_counter_mode() -> FlopCounterMode:
    """A FlopCounterMode that counts the selective-scan custom op (when registered) by ``scan_flops``."""
    op = _scan_op()
    return FlopCounterMode(display=False, custom_mapping={op: _op_flops} if op is not None else None)


class ScanFlopCounter:
    """Context manager: every selective scan of the block and its FLOPs, by VMamba's rule.

    Calls of the Python function ``selective_scan`` reach it through the op's hook list (``SCAN_HOOKS``), with
    their shapes; with ``torch_counter`` (an active ``flop_counter_mode()``) whatever that counter records inside
    such a call is set aside in ``hidden``, so the scan's inner ops are never counted as dense FLOPs. Calls of the
    custom op that bypass the Python function (compiled code) are counted by ``torch_counter``'s formula for the
    op; ``split(counter)`` adds them to the scan total.
    """

    def __init__(self, torch_counter: Optional[FlopCounterMode] = None):
        self.torch_counter = torch_counter
        self.calls: List[Dict[str, Any]] = []
        self.flops = 0
        self.hidden = 0
        self._hidden_op = 0

    def __call__(self, info: Dict[str, Any]):
        if self._inside_counted_op():
            return None  # the custom op's kernel calling the Python function: the op's formula counts this call
        self.calls.append(dict(info))
        self.flops += scan_call_flops(info)
        return self._hide() if self.torch_counter is not None else None

    def _inside_counted_op(self) -> bool:
        """Whether this runs inside an op that ``torch_counter`` is dispatching (its mode is off the stack then)."""
        if self.torch_counter is None or _scan_op() is None:
            return False
        from torch.utils._python_dispatch import _get_current_dispatch_mode_stack
        return not any(getattr(m, "counter", None) is self.torch_counter for m in _get_current_dispatch_mode_stack())

    def _op_total(self) -> int:
        op = _scan_op()
        if op is None or self.torch_counter is None:
            return 0
        return int(self.torch_counter.get_flop_counts().get("Global", {}).get(op, 0))

    @contextlib.contextmanager
    def _hide(self):
        before, before_op = self.torch_counter.get_total_flops(), self._op_total()
        try:
            yield
        finally:
            self.hidden += self.torch_counter.get_total_flops() - before
            self._hidden_op += self._op_total() - before_op

    def split(self) -> Tuple[int, int]:
        """(scan FLOPs, FlopCounterMode's FLOPs of everything else) after the block."""
        outside_op = self._op_total() - self._hidden_op  # op calls that did not pass through the hook
        total = self.torch_counter.get_total_flops() if self.torch_counter is not None else 0
        return self.flops + outside_op, total - self.hidden - outside_op

    def __enter__(self) -> "ScanFlopCounter":
        _scan_module().SCAN_HOOKS.append(self)
        return self

    def __exit__(self, *exc) -> None:
        hooks = _scan_module().SCAN_HOOKS
        if self in hooks:
            hooks.remove(self)


@dataclass
class FlopCount:
    """FLOPs of one forward pass. ``flops`` is the VMamba / fvcore convention (see module docstring)."""

    flops: int           # macs of torch ops + scan FLOPs
    scan_flops: int      # the selective-scan part (9·B·L·D·N rule)
    torch_flops: int     # FlopCounterMode's count outside the scan (2 FLOPs per multiply-add)
    scan_calls: int
    batch: int
    input_size: Tuple[int, int, int]


def _shape_only_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                     return_last_state=False, out_dtype=None):
    """Stand-in backend returning zeros of the right shape, to save the scan's time while counting (the count
    itself comes from ``ScanFlopCounter``, not from this stand-in)."""
    b, d, length = u.shape
    shape = (b, d, A.shape[1], length) if C is None else (b, d, length)
    y = u.new_zeros(shape, dtype=out_dtype or u.dtype)
    return (y, u.new_zeros(b, d, A.shape[1], dtype=torch.float32)) if return_last_state else y


@contextlib.contextmanager
def _scan_backends_replaced():
    # selective_scan imports its backend function from these modules at every call, so this reaches every caller
    with contextlib.ExitStack() as stack:
        for module, attr in (("visionssm.kernels.torch_scan", "selective_scan_torch"),
                             ("visionssm.kernels.numba_scan", "selective_scan_numba"),
                             ("visionssm.kernels.ref", "selective_scan_ref")):
            mod = importlib.import_module(module)
            original = getattr(mod, attr)
            setattr(mod, attr, _shape_only_scan)
            stack.callback(setattr, mod, attr, original)
        yield


def count_flops(model: nn.Module, input_size: Sequence[int], batch: int = 1,
                device: Optional[torch.device] = None, run_scan: bool = False) -> FlopCount:
    """Forward FLOPs of ``model`` on a random (batch, *input_size) input, eval mode, no grad.

    ``run_scan=False`` replaces the CPU scan backends by a zero-output stand-in while counting (the count
    depends on shapes only; the real scan would cost minutes for d_state 16 models on a small CPU).
    """
    device = device or next(model.parameters(), torch.empty(0)).device  # CPU for a model without parameters
    return count_forward_flops(model, torch.randn(batch, *input_size, device=device), run_scan=run_scan)


def count_forward_flops(model: nn.Module, x: torch.Tensor, run_scan: bool = False) -> FlopCount:
    """``count_flops`` on a given input ``x`` (batch first): one forward, eval mode, no grad."""
    was_training = model.training
    model.eval()
    stub = contextlib.nullcontext() if run_scan else _scan_backends_replaced()
    try:
        with stub, torch.no_grad(), flop_counter_mode() as counter, ScanFlopCounter(counter) as scans:
            model(x)
    finally:
        model.train(was_training)
    scan, torch_flops = scans.split()
    return FlopCount(flops=torch_flops // 2 + scan, scan_flops=scan, torch_flops=torch_flops,
                     scan_calls=len(scans.calls), batch=x.shape[0], input_size=tuple(x.shape[1:]))


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------- model specs


@dataclass
class ModelSpec:
    """A registered timm name plus constructor kwargs, written ``name:key=value,key=value`` on the command line."""

    name: str
    kwargs: Dict[str, Any] = field(default_factory=dict)
    reference: bool = False

    @property
    def label(self) -> str:
        if not self.kwargs:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v}" for k, v in self.kwargs.items())


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # bare words such as scan=hilbert stay strings


def parse_model_spec(text: str) -> ModelSpec:
    """``"vmamba_tiny_s1l8:scan=hilbert,d_state=1"`` → ModelSpec (values parsed as Python literals when they are)."""
    name, _, rest = text.partition(":")
    kwargs: Dict[str, Any] = {}
    if rest:
        # split on commas that start a new key=value (values such as depths=(1,1,2,1) contain commas)
        parts: List[str] = []
        for piece in rest.split(","):
            if "=" in piece.split("(")[0].split("[")[0] or not parts:
                parts.append(piece)
            else:
                parts[-1] += "," + piece
        for part in parts:
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise ValueError(f"model spec {text!r}: expected name:key=value[,key=value...], got {part!r}")
            kwargs[key.strip()] = _literal(value.strip())
    if not name:
        raise ValueError(f"model spec {text!r} has no model name")
    return ModelSpec(name, kwargs)


def create_model(spec: ModelSpec, img_size: Optional[int] = None) -> nn.Module:
    import timm

    import visionssm  # noqa: F401  (registers our models with timm)

    if not timm.is_model(spec.name):
        raise ValueError(f"unknown model {spec.name!r}: not registered with timm. "
                         f"visionssm models: {', '.join(_registered())}")
    kwargs = dict(spec.kwargs)
    if spec.reference and img_size and spec.name.startswith(_NEEDS_IMG_SIZE):
        kwargs.setdefault("img_size", img_size)
    return timm.create_model(spec.name, pretrained=False, **kwargs)


def _registered() -> List[str]:
    from visionssm.models import registered_model_names
    return registered_model_names()


def default_input_size(model: nn.Module) -> Tuple[int, int, int]:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return tuple(cfg.get("input_size", (3, 224, 224)))


# ------------------------------------------------------------------------------------------- measurements


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cpu_peak_bytes(fn: Callable[[], None]) -> Optional[int]:
    """Peak of live CPU tensor bytes allocated during ``fn`` (above the start), from the profiler's memory events."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    try:
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    except AttributeError:  # profiler internals moved: report "not measured" rather than a wrong number
        return None
    live = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        if e.device_type() == torch.autograd.DeviceType.CPU:
            live += e.nbytes()
            peak = max(peak, live)
    return peak


def peak_memory_mib(fn: Callable[[], None], device: torch.device) -> Optional[float]:
    """Peak tensor memory that ``fn`` allocates above what is live before it, in MiB.

    CUDA: ``torch.cuda.max_memory_allocated``. CPU: the running sum of the allocations and frees that
    ``torch.profiler`` (``profile_memory=True``) records during the call (process RSS would hide reuse of
    memory the allocator already holds). None where the profiler does not expose its memory events.
    """
    gc.collect()
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        _sync(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2 ** 20
    peak = _cpu_peak_bytes(fn)
    return None if peak is None else peak / 2 ** 20


class _Runner:
    """One model ready to run a step of one mode on a fixed batch."""

    def __init__(self, spec: ModelSpec, model: nn.Module, x: torch.Tensor, device: torch.device,
                 amp_dtype: Optional[torch.dtype]):
        self.spec, self.model, self.x, self.device, self.amp_dtype = spec, model, x, device, amp_dtype
        self.num_classes = getattr(model, "num_classes", None) or 1000
        self.target = torch.randint(0, self.num_classes, (x.shape[0],), device=device)
        self.optimizer: Optional[torch.optim.Optimizer] = None

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def step(self, mode: str) -> None:
        if mode == "infer":
            self.model.eval()
            with torch.no_grad(), self._autocast():
                self.model(self.x)
            return
        self.model.train()
        if self.optimizer is None:
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=1e-4, momentum=0.9)
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss = F.cross_entropy(self.model(self.x), self.target)
        loss.backward()
        self.optimizer.step()


def profile_step(spec: ModelSpec, mode: str = "infer", batch_size: int = 8, img_size: Optional[int] = None,
                 device: str = "cpu", row_limit: int = 25, steps: int = 1) -> str:
    """torch.profiler table (self CPU/CUDA time per op, top ``row_limit``) of ``steps`` steps after one warm-up."""
    from torch.profiler import ProfilerActivity, profile

    dev = torch.device(device)
    torch.manual_seed(0)
    model = create_model(spec, img_size).to(dev)
    size = (3, img_size, img_size) if img_size else default_input_size(model)
    runner = _Runner(spec, model, torch.randn(batch_size, *size, device=dev), dev, None)
    runner.step(mode)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with profile(activities=activities, record_shapes=False) as prof:
        for _ in range(steps):
            runner.step(mode)
        _sync(dev)
    key = "self_cuda_time_total" if dev.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=row_limit)


def _loadavg() -> Optional[List[float]]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _scan_backend(device: torch.device) -> str:
    """The backend ``selective_scan(backend="auto")`` picks for a model's scans (C given) on ``device``."""
    from visionssm.kernels.selective_scan import _auto_backend

    probe = torch.empty(1, 1, 1, device=device)
    return _auto_backend(probe, probe, 16)


def environment(device: torch.device) -> Dict[str, Any]:
    import timm
    env = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "python": platform.python_version(), "torch": torch.__version__, "timm": timm.__version__,
        "platform": platform.platform(), "cpu": _cpu_name(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "device": str(device), "loadavg_start": _loadavg(),
    }
    env["scan_backend"] = _scan_backend(device)
    if env["scan_backend"] == "numba":
        import numba
        env["numba"] = numba.__version__
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["allow_tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
        env["allow_tf32_cudnn"] = torch.backends.cudnn.allow_tf32
    return env


def benchmark(
        specs: Sequence[ModelSpec],
        device: str = "cpu",
        batch_size: int = 8,
        img_size: Optional[int] = None,
        modes: Sequence[str] = MODES,
        warmup: int = 1,
        rounds: int = 3,
        iters: int = 2,
        references: Sequence[str] = REFERENCE_MODELS,
        amp_dtype: Optional[torch.dtype] = None,
        flops: bool = True,
        memory: bool = True,
        log: Callable[[str], None] = print,
) -> Dict[str, Any]:
    """Benchmark ``specs`` and the timm ``references`` in one interleaved run; returns a JSON-able dict.

    ``img_size`` None: each model's default input size (224 for every visionssm ImageNet variant).
    Throughput (img/s) per model and mode is the median over ``rounds`` rounds of ``iters`` steps.
    """
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {MODES}")
    dev = torch.device(device)
    all_specs = list(specs) + [ModelSpec(name, reference=True) for name in references
                               if name not in [s.label for s in specs]]
    settings = {"batch_size": batch_size, "img_size": img_size, "modes": list(modes), "warmup": warmup,
                "rounds": rounds, "iters": iters, "amp_dtype": str(amp_dtype) if amp_dtype else None,
                "references": list(references), "flops_convention": FLOPS_CONVENTION}
    results: Dict[str, Any] = {"environment": environment(dev), "settings": settings, "models": []}
    runners: List[_Runner] = []
    for spec in all_specs:
        log(f"building {spec.label}")
        torch.manual_seed(0)
        model = create_model(spec, img_size).to(dev)
        size = (3, img_size, img_size) if img_size else default_input_size(model)
        entry: Dict[str, Any] = {"label": spec.label, "name": spec.name, "kwargs": {k: repr(v) for k, v in spec.kwargs.items()},
                                 "reference": spec.reference, "params": count_params(model), "input_size": list(size)}
        if flops:
            fc = count_flops(model, size, batch=1, device=dev)
            entry["flops"] = fc.flops
            entry["scan_flops"] = fc.scan_flops
            entry["torch_flops"] = fc.torch_flops
            entry["scan_calls"] = fc.scan_calls
        results["models"].append(entry)
        x = torch.randn(batch_size, *size, device=dev)
        runners.append(_Runner(spec, model, x, dev, amp_dtype))

    for mode in modes:
        for r in runners:
            for _ in range(warmup):
                r.step(mode)
            _sync(dev)
        per_round: List[List[float]] = [[] for _ in runners]
        for round_idx in range(rounds):
            for i, r in enumerate(runners):
                _sync(dev)
                t0 = time.perf_counter()
                for _ in range(iters):
                    r.step(mode)
                _sync(dev)
                per_round[i].append(batch_size * iters / (time.perf_counter() - t0))
            log(f"{mode} round {round_idx + 1}/{rounds}: " + ", ".join(
                f"{r.spec.label} {per_round[i][-1]:.2f}" for i, r in enumerate(runners)))
        for i, r in enumerate(runners):
            entry = results["models"][i]
            entry[mode] = {"img_per_s": statistics.median(per_round[i]),
                           "img_per_s_rounds": [round(v, 3) for v in per_round[i]]}
            if memory:
                entry[mode]["peak_mem_mib"] = peak_memory_mib(lambda r=r, mode=mode: r.step(mode), dev)

    ref_entries = {e["name"]: e for e in results["models"] if e["reference"]}
    for entry in results["models"]:
        entry["ratio"] = {mode: {ref: entry[mode]["img_per_s"] / ref_e[mode]["img_per_s"]
                                 for ref, ref_e in ref_entries.items()} for mode in modes}
    results["environment"]["loadavg_end"] = _loadavg()
    return results


def flops_table(names: Sequence[str], img_size: Optional[int] = None, log: Callable[[str], None] = print
                ) -> Dict[str, Any]:
    """Params and FLOPs (batch 1, default input size unless ``img_size``) of registered models, on CPU."""
    out: Dict[str, Any] = {"settings": {"img_size": img_size, "flops_convention": FLOPS_CONVENTION},
                           "environment": {"torch": torch.__version__}, "models": {}}
    for name in names:
        torch.manual_seed(0)
        model = create_model(ModelSpec(name))
        size = (3, img_size, img_size) if img_size else default_input_size(model)
        fc = count_flops(model, size)
        out["models"][name] = {"params": count_params(model), "input_size": list(size), "flops": fc.flops,
                               "scan_flops": fc.scan_flops, "torch_flops": fc.torch_flops}
        log(f"{name}: {count_params(model) / 1e6:.2f}M params, {fc.flops / 1e9:.2f} GFLOPs at {size[1]}x{size[2]}")
        del model
        gc.collect()
    return out


# ------------------------------------------------------------------------------------------------- report


def _fmt(v: Optional[float], digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def markdown_table(results: Dict[str, Any]) -> str:
    """Markdown table of a ``benchmark`` result: one row per model, ratios to every reference per mode."""
    modes = results["settings"]["modes"]
    refs = [e["name"] for e in results["models"] if e["reference"]]
    short = {"convnext_tiny": "convnext_t", "swin_tiny_patch4_window7_224": "swin_t", "deit_small_patch16_224": "deit_s"}
    head = ["model", "params (M)", "GFLOPs"]
    for mode in modes:
        head += [f"{mode} img/s"] + [f"{mode} × {short.get(r, r)}" for r in refs] + [f"{mode} peak MiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in results["models"]:
        row = [f"`{e['label']}`", _fmt(e["params"] / 1e6), _fmt(e["flops"] / 1e9 if "flops" in e else None)]
        for mode in modes:
            m = e[mode]
            row += [_fmt(m["img_per_s"])] + [_fmt(e["ratio"][mode][r]) for r in refs] + [_fmt(m.get("peak_mem_mib"), 0)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def flops_markdown(flops: Dict[str, Any]) -> str:
    """Markdown table of a ``--flops-only`` result next to the published params / FLOPs (visionssm.models.published)."""
    from visionssm.models.published import PUBLISHED

    lines = ["| model | params (M) | published params (M) | GFLOPs | of which scan | published GFLOPs |",
             "|---|---|---|---|---|---|"]
    for name, m in flops["models"].items():
        pub = PUBLISHED.get(name)
        pub_p = f"{pub.params_m:g}" if pub and pub.params_m else "—"
        pub_f = f"{pub.gflops:g}" if pub and pub.gflops else "—"
        lines.append(f"| `{name}` | {m['params'] / 1e6:.2f} | {pub_p} | {m['flops'] / 1e9:.2f} | "
                     f"{m['scan_flops'] / 1e9:.3f} | {pub_f} |")
    return "\n".join(lines)


def _parse_dtype(text: Optional[str]) -> Optional[torch.dtype]:
    if text in (None, "float32", "fp32"):
        return None
    table = {"float16": torch.float16, "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if text not in table:
        raise argparse.ArgumentTypeError(f"--amp: unknown dtype {text!r}; choose float32, float16 or bfloat16")
    return table[text]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="benchmark", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Model specs: a registered name, optionally with constructor kwargs, e.g. vmamba_tiny_s1l8:scan=hilbert "
               "or vmamba_tiny:d_state=1,depths=(1,1,2,1). timm's convnext_tiny, swin_tiny_patch4_window7_224 and "
               "deit_small_patch16_224 always run in the same process for the ratios.")
    p.add_argument("--models", nargs="+", default=["vmamba_tiny_s1l8", "vmamba_tiny"], help="model specs")
    p.add_argument("--references", nargs="*", default=list(REFERENCE_MODELS),
                   help="timm models run in the same process for the throughput ratios (default: %(default)s)")
    p.add_argument("--scans", nargs="+", default=None,
                   help="also run every model once per scan strategy (adds scan=<name> to its kwargs)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (cuda when available)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--img-size", type=int, default=None, help="square input side; default each model's input size")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds; the median is reported")
    p.add_argument("--iters", type=int, default=2, help="steps per model per round")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument("--amp", default=None, help="autocast dtype: float16 or bfloat16 (default float32, no autocast)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    p.add_argument("--flops-only", action="store_true",
                   help="only params and FLOPs (batch 1), no timing; with --all-registered covers every variant")
    p.add_argument("--all-registered", action="store_true", help="with --flops-only: every registered visionssm model")
    p.add_argument("--profile", action="store_true",
                   help="instead of benchmarking, print a torch.profiler op table of each model's step (first mode)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--markdown", default=None, help="write the markdown table here")
    return p


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.flops_only:
        names = _registered() if args.all_registered else [parse_model_spec(m).name for m in args.models]
        res = flops_table(names, args.img_size, log=lambda s: print(s, file=sys.stderr))
        res["command"] = "python tools/benchmark.py " + " ".join(argv if argv is not None else sys.argv[1:])
        if args.out:
            with open(args.out, "w") as f:
                json.dump(res, f, indent=1)
                f.write("\n")
        table = flops_markdown(res)
        print(table)
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(table + "\n")
        return res
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    specs = [parse_model_spec(m) for m in args.models]
    if args.scans:
        specs = [ModelSpec(s.name, dict(s.kwargs, scan=scan)) for s in specs for scan in args.scans]
    if args.profile:
        tables = {}
        for spec in specs:
            tables[spec.label] = profile_step(spec, args.modes[0], args.batch_size, args.img_size, device)
            print(f"## {spec.label} ({args.modes[0]}, batch {args.batch_size})\n{tables[spec.label]}")
        return {"profile": tables}
    res = benchmark(specs, device=device, batch_size=args.batch_size, img_size=args.img_size, modes=args.modes,
                    warmup=args.warmup, rounds=args.rounds, iters=args.iters, references=args.references,
                    amp_dtype=_parse_dtype(args.amp),
                    memory=not args.no_memory, log=lambda s: print(s, file=sys.stderr))
    res["command"] = "python tools/benchmark.py " + " ".join(argv if argv is not None else sys.argv[1:])
    table = markdown_table(res)
    print(table)
    env = res["environment"]
    print(f"\n{env['device']} ({env.get('gpu') or env['cpu']}), torch {env['torch']}, {env['torch_threads']} threads, "
          f"batch {args.batch_size}, load average {env['loadavg_start']} -> {env['loadavg_end']}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    return res


__all__ = ["REFERENCE_MODELS", "ScanFlopCounter", "FlopCount", "count_flops", "count_params", "ModelSpec",
           "parse_model_spec", "create_model", "peak_memory_mib", "benchmark", "profile_step", "flops_table", "markdown_table",
           "scan_call_flops", "flops_markdown", "main"]
