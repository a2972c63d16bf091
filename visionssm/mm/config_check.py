"""Check a training config before the Runner starts: misspelt top-level keys and hook / loop arguments.

mmengine ignores a top-level key it does not know (``load_form=...`` trains from scratch) and builds some
components only when first used (a misspelt ``CheckpointHook`` argument fails after a full epoch). Configs also
hold helper variables (``data_root``, ``train_pipeline`` ...), so a top-level key is reported only when it is
not a Runner key but is close to one; component arguments are checked against the constructor's signature.
"""
import difflib
import inspect
from typing import Any, Iterator, List, Mapping, Optional, Tuple

__all__ = ["ConfigKeyError", "RUNNER_KEYS", "check_config"]

# What mmengine's Runner (``from_cfg``, ``wrap_model``, ``build_*``) and tools/train.py read at the top level.
RUNNER_KEYS = frozenset({
    "model", "work_dir", "train_dataloader", "val_dataloader", "test_dataloader", "train_cfg", "val_cfg",
    "test_cfg", "auto_scale_lr", "optim_wrapper", "param_scheduler", "val_evaluator", "test_evaluator",
    "default_hooks", "custom_hooks", "data_preprocessor", "load_from", "resume", "launcher", "env_cfg",
    "log_processor", "log_level", "visualizer", "default_scope", "randomness", "experiment_name", "cfg",
    "model_wrapper_cfg", "find_unused_parameters", "custom_imports", "runner_type", "compile", "strategy",
    "tta_model", "tta_pipeline", "dist_params", "workflow",
})


class ConfigKeyError(KeyError):
    """A config key no component accepts; the message names the key and the nearest valid one."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def _nearest(key: str, valid, cutoff: float = 0.6) -> Optional[str]:
    m = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=cutoff)
    return m[0] if m else None


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (a swap of two neighbours counts as one edit)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def _top_level(cfg: Mapping) -> List[str]:
    """Keys within two edits of a Runner key (one for short keys): helpers like ``train_pipeline`` are further."""
    errors = []
    for key in list(cfg):
        if key.startswith("_") or key in RUNNER_KEYS:
            continue
        near = [k for k in RUNNER_KEYS if _edit_distance(key, k) <= (2 if len(k) >= 6 else 1)]
        if near:
            best = _nearest(key, near, cutoff=0.0) or sorted(near)[0]
            errors.append(f"config key '{key}' is not read by the runner: did you mean '{best}'?")
    return errors


def _signature_names(obj) -> Tuple[set, bool]:
    """Accepted keyword names of a class / function and whether it takes ``**kwargs``."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return set(), True
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self"}
    return names, any(p.kind == p.VAR_KEYWORD for p in params)


def _forwarded_names(obj, comp: Mapping) -> Optional[set]:
    """Where a component passes its ``**kwargs`` on: the names that destination accepts (None: unknown)."""
    name = getattr(obj, "__name__", "")
    if name == "CheckpointHook":  # kwargs go to Runner.save_checkpoint, whose arguments the hook already passes
        return set()
    if name == "EMAHook":  # kwargs go to the averaged model (ExponentialMovingAverage by default)
        from mmengine.registry import MODELS
        try:
            ema = MODELS.get(comp.get("ema_type", "ExponentialMovingAverage"))
        except Exception:  # an unregistered ema_type: the hook reports it itself when built
            return None
        if ema is None:
            return None
        names, var_kw = _signature_names(ema)
        return None if var_kw else names - {"model"}
    return None


def _components(cfg: Mapping) -> Iterator[Tuple[str, Any, str, Mapping]]:
    """(where, registry, default type, component cfg) for the components built at run time."""
    from mmengine.registry import HOOKS, LOG_PROCESSORS, LOOPS
    for name, hook in (cfg.get("default_hooks") or {}).items():
        if isinstance(hook, Mapping):
            yield f"default_hooks.{name}", HOOKS, "", hook
    for i, hook in enumerate(cfg.get("custom_hooks") or []):
        if isinstance(hook, Mapping):
            yield f"custom_hooks[{i}]", HOOKS, "", hook
    train_cfg = cfg.get("train_cfg")
    if isinstance(train_cfg, Mapping) and "type" in train_cfg:
        yield "train_cfg", LOOPS, "", train_cfg
    for key, default in (("val_cfg", "ValLoop"), ("test_cfg", "TestLoop")):
        loop = cfg.get(key)
        if isinstance(loop, Mapping) and (loop or "type" in loop):
            yield key, LOOPS, default, loop
    lp = cfg.get("log_processor")
    if isinstance(lp, Mapping):
        yield "log_processor", LOG_PROCESSORS, "LogProcessor", lp


def _component_args(cfg: Mapping, scope: str) -> List[str]:
    errors = []
    for where, registry, default, comp in _components(cfg):
        typ = comp.get("type", default)
        if not typ:
            continue
        try:
            if isinstance(typ, str):
                with registry.switch_scope_and_registry(comp.get("_scope_", scope)) as reg:
                    obj = reg.get(typ)
            else:
                obj = typ
        except Exception:  # an unknown type: the Runner names it when it builds the component
            obj = None
        if obj is None:
            continue
        names, var_kw = _signature_names(obj)
        if var_kw:
            extra = _forwarded_names(obj, comp)
            if extra is None:
                continue
            names = names | extra
        if registry.name == "hook":
            names = names | {"priority"}  # popped by Runner.register_hook
        tname = getattr(obj, "__name__", str(typ))
        for key in comp:
            if key == "type" or key.startswith("_") or key in names:  # _scope_: mmengine's
                continue
            near = _nearest(key, names)
            hint = f": did you mean '{near}'?" if near else f" (it accepts {', '.join(sorted(names))})"
            errors.append(f"{where}: {tname} has no argument '{key}'{hint}")
    return errors


def check_config(cfg) -> None:
    """Raise :class:`ConfigKeyError` listing every unknown top-level key and component argument, before training."""
    import mmengine.hooks  # noqa: F401  (registers the hooks, loops and log processor)
    import mmengine.runner  # noqa: F401
    from mmengine.registry import DefaultScope, init_default_scope
    scope = cfg.get("default_scope") or "mmengine"
    if DefaultScope.get_current_instance() is None:
        init_default_scope(scope)
    with DefaultScope.overwrite_default_scope(scope):
        errors = _top_level(cfg) + _component_args(cfg, scope)
    if errors:
        raise ConfigKeyError("\n".join(["config check failed:", *("  " + e for e in errors)]))
