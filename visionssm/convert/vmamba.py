"""VMamba (MzeroMiko/VMamba) official checkpoints and constructor kwargs → ``visionssm.models.vmamba.VMamba``.

Accepted layouts (any combination, after ``unwrap_state_dict``):
- released classification checkpoints (``classification/models/vmamba.py``): ``patch_embed.{0,2,5,7}``,
  ``layers.i.blocks.j.{norm,op,norm2,mlp}``, ``layers.i.downsample.{1,2,3}``, ``classifier.{norm,head}``;
- legacy vanilla (v0) names of the Jan-2024 training code: ``patch_embed.{proj,norm}``, ``ln_1``,
  ``self_attention``, ``downsample.{norm,reduction}``, top-level ``norm`` / ``head``;
- the single-file ``vmamba.py`` grouped-Linear layout: ``op.x_proj.weight`` (K·(R+2N), d) and
  ``op.dt_projs.weight`` (K·d, R);
- our own keys (returned unchanged apart from reshapes), so conversion is idempotent.
The official downsample of stage i (end of ``layers.i``) is the first module of our ``stages.{i+1}``.
"""
import re
from typing import Any, Dict, Mapping, Optional

import torch
from torch import nn

from .common import check_state_dict
from .registry import FamilyConverter, lazy, register_family

StateDict = Dict[str, torch.Tensor]

_SSM_PARAMS = ("x_proj_weight", "dt_projs_weight", "dt_projs_bias", "A_logs", "Ds")
_ACTS = ("silu", "gelu", "relu", "sigmoid")

# official VSSM kwargs that only affect training or initialisation (not the weights' meaning)
_IGNORED_KWARGS = ("use_checkpoint", "drop_path_rate", "ssm_init", "imgsize", "channel_first", "pretrained",
                   "out_indices", "_SS2D")


def is_ours(state_dict: Mapping) -> bool:
    return any(k.startswith(("stages.", "stem.")) for k in state_dict)


def _legacy_to_current(k: str) -> str:
    """Legacy v0 names → current official names (what ``VSSM._load_from_state_dict`` does on load)."""
    k = re.sub(r"^patch_embed\.proj\.", "patch_embed.0.", k)
    k = re.sub(r"^patch_embed\.norm\.", "patch_embed.2.", k)
    k = k.replace(".ln_1.", ".norm.").replace(".self_attention.", ".op.")
    k = re.sub(r"^norm\.", "classifier.norm.", k)
    k = re.sub(r"^head\.", "classifier.head.", k)
    # single-file grouped Linear → stacked parameters (reshaped to the model's shape afterwards)
    k = k.replace(".op.x_proj.weight", ".op.x_proj_weight").replace(".op.dt_projs.weight", ".op.dt_projs_weight")
    return k


def _current_to_ours(k: str, stem_type: str, downsample_type: str) -> str:
    if k.startswith("patch_embed."):
        idx, rest = k[len("patch_embed."):].split(".", 1)
        names = {"0": "conv", "2": "norm"} if stem_type == "patch" else {"0": "conv1", "2": "norm1", "5": "conv2", "7": "norm2"}
        return f"stem.{names[idx]}.{rest}" if idx in names else k
    m = re.match(r"^layers\.(\d+)\.downsample\.(\w+)\.(.+)$", k)
    if m:
        i, name, rest = int(m.group(1)), m.group(2), m.group(3)
        names = ({"1": "norm", "2": "reduction", "norm": "norm", "reduction": "reduction"} if downsample_type == "merge"
                 else {"1": "conv", "3": "norm"})
        return f"stages.{i + 1}.downsample.{names[name]}.{rest}" if name in names else k
    m = re.match(r"^layers\.(\d+)\.blocks\.(\d+)\.(.+)$", k)
    if m:
        prefix, rest = f"stages.{m.group(1)}.blocks.{m.group(2)}.", m.group(3)
        if rest.startswith("norm."):
            return prefix + "norm1." + rest[len("norm."):]
        if rest.startswith("op."):
            rest = rest[len("op."):]
            if rest in _SSM_PARAMS:
                return prefix + "mixer.ssm." + rest
            rest = re.sub(r"^conv2d\.", "conv.", rest)
            return prefix + "mixer." + rest
        return prefix + rest  # norm2.*, mlp.fc1.*, mlp.fc2.*
    if k.startswith("classifier.norm."):
        return "norm_pre." + k[len("classifier.norm."):]
    if k.startswith("classifier.head."):
        return "head.fc." + k[len("classifier.head."):]
    return k


def reshape_to_model(state_dict: Mapping, model: nn.Module) -> StateDict:
    """Reshape tensors whose layout differs but whose size matches (grouped Linear ↔ stacked, Linear ↔ 1×1 conv)."""
    own = model.state_dict()
    out = {}
    for k, v in state_dict.items():
        t = own.get(k)
        if t is not None and tuple(t.shape) != tuple(v.shape) and t.numel() == v.numel():
            v = v.reshape(t.shape)
        out[k] = v
    return out


def convert_vmamba_state_dict(state_dict: Mapping, model: nn.Module) -> StateDict:
    """Unwrapped official (any layout above) or our state dict → our keys and shapes for ``model``."""
    if is_ours(state_dict):
        return reshape_to_model(state_dict, model)
    stem_type, downsample_type = model.stem_type, model.downsample_type
    out = {}
    for k, v in state_dict.items():
        out[_current_to_ours(_legacy_to_current(k), stem_type, downsample_type)] = v
    return reshape_to_model(out, model)


def describe_official_state_dict(state_dict: Mapping) -> Dict[str, Any]:
    """Architecture read off an official (or our) state dict: depths, dims, d_state, ssm_ratio, generation."""
    keys = {_legacy_to_current(k): v for k, v in state_dict.items()}
    ours = is_ours(keys)
    block_re = re.compile(r"^stages\.(\d+)\.blocks\.(\d+)\." if ours else r"^layers\.(\d+)\.blocks\.(\d+)\.")
    depth: Dict[int, int] = {}
    for k in keys:
        m = block_re.match(k)
        if m:
            depth[int(m.group(1))] = max(depth.get(int(m.group(1)), 0), int(m.group(2)) + 1)
    depths = tuple(depth[i] for i in sorted(depth))
    a_key = next((k for k in keys if k.endswith("A_logs")), None)
    norm_key = next((k for k in keys if re.search(r"blocks\.0\.(norm|norm1)\.weight$", k)), None)
    info: Dict[str, Any] = {"depths": depths}
    if norm_key is not None:
        info["dims"] = int(keys[norm_key].shape[0])
    if a_key is not None:
        a = keys[a_key]
        info["d_state"] = int(a.shape[1])
        k_dirs = 4
        if "dims" in info:
            info["ssm_ratio"] = a.shape[0] / k_dirs / info["dims"]
    info["mlp"] = any(".mlp.fc1." in k for k in keys)
    info["generation"] = "v2" if info["mlp"] else "v0"
    return info


def official_kwargs_to_ours(kwargs: Mapping) -> Dict[str, Any]:
    """Official ``VSSM(**kwargs)`` constructor arguments → ``VMamba(**ours)`` arguments.

    Raises for official options this port does not implement (rather than silently building another net).
    """
    kw = dict(kwargs)
    ours: Dict[str, Any] = {}
    unknown = []

    def take(name, default=None):
        return kw.pop(name, default)

    ours["depths"] = tuple(take("depths", (2, 2, 9, 2)))
    dims = take("dims", (96, 192, 384, 768))
    ours["dims"] = dims if isinstance(dims, int) else tuple(dims)
    ours["patch_size"] = take("patch_size", 4)
    ours["in_chans"] = take("in_chans", 3)
    ours["num_classes"] = take("num_classes", 1000)
    ours["d_state"] = take("ssm_d_state", 16)
    ours["ssm_ratio"] = take("ssm_ratio", 2.0)
    ours["dt_rank"] = take("ssm_dt_rank", "auto")
    ours["d_conv"] = take("ssm_conv", 3)
    ours["conv_bias"] = take("ssm_conv_bias", True)
    ours["ssm_drop_rate"] = take("ssm_drop_rate", 0.0)
    ours["mlp_ratio"] = take("mlp_ratio", 4.0)
    ours["mlp_drop_rate"] = take("mlp_drop_rate", 0.0)
    ours["drop_path_rate"] = kw.get("drop_path_rate", 0.1)
    ours["patch_norm"] = take("patch_norm", True)
    for name in ("ssm_act_layer", "mlp_act_layer"):
        act = str(take(name, "silu" if name.startswith("ssm") else "gelu")).lower()
        if act not in _ACTS:
            raise ValueError(f"VMamba {name}={act!r} is not one of {_ACTS}")
        ours[name] = act
    if take("gmlp", False):
        raise NotImplementedError("VMamba gmlp=True (gated MLP) is not ported; no released checkpoint uses it.")
    if take("posembed", False):
        raise NotImplementedError("VMamba posembed=True is not ported; no released checkpoint uses it.")

    norm = str(take("norm_layer", "ln")).lower()
    if norm not in ("ln", "ln2d"):
        raise NotImplementedError(f"VMamba norm_layer={norm!r} is not ported (supported: 'ln', 'ln2d').")
    ours["channels_first"] = norm == "ln2d"
    ours["downsample_type"] = {"v1": "merge", "v2": "conv2", "v3": "conv3"}[take("downsample_version", "v2")]
    ours["stem_type"] = {"v1": "patch", "v2": "overlap"}[take("patchembed_version", "v1")]

    ft = str(take("forward_type", "v2"))
    ours.update(forward_type_to_ours(ft))
    for name in _IGNORED_KWARGS:
        kw.pop(name, None)
    unknown = sorted(kw)
    if unknown:
        raise ValueError(f"unknown official VMamba kwargs {unknown}; visionssm maps the VSSM constructor arguments of "
                         f"MzeroMiko/VMamba vmamba.py (depths, dims, ssm_*, forward_type, mlp_*, norm_layer, ...).")
    return ours


def forward_type_to_ours(forward_type: str) -> Dict[str, Any]:
    """VMamba ``forward_type`` (e.g. "v0", "v05_noz", "v052d") → SS2D options (gate, out_norm, scan)."""
    ft = forward_type
    opts: Dict[str, Any] = {"gate": "silu", "out_norm": True, "scan": "cross"}

    def strip(tag):
        nonlocal ft
        if ft.endswith(tag):
            ft = ft[: -len(tag)]
            return True
        return False

    strip("_no32")  # precision only
    if strip("_oact"):
        raise NotImplementedError(f"forward_type {forward_type!r}: the '_oact' output activation is not ported.")
    if strip("_noz"):
        opts["gate"] = "none"
    elif strip("_nozact"):
        opts["gate"] = "linear"
    if strip("_onnone"):
        opts["out_norm"] = False
    for tag in ("_ondwconv3", "_oncnorm", "_onsoftmax", "_onsigmoid"):
        if ft.endswith(tag):
            raise NotImplementedError(f"forward_type {forward_type!r}: output norm {tag[1:]!r} is not ported.")
    scans = {"v051d": "unidirectional", "v052d": "bidirectional_2d", "v052dc": "cascade"}
    if ft in scans:
        opts["scan"] = scans[ft]
    elif ft not in ("v0", "v0seq", "v01", "v02", "v03", "v04", "v05", "v2", "v3"):
        raise NotImplementedError(f"VMamba forward_type {forward_type!r} is not ported.")
    return opts


def official_generation(kwargs: Mapping) -> str:
    """"v0" for the vanilla SS2D (forward_type v0), else "v2"."""
    return "v0" if str(kwargs.get("forward_type", "v2")) in ("v0", "v0seq") else "v2"


def check_loadable(model: nn.Module, state_dict: Mapping, source: str, guess: Optional[str],
                   ignore_prefixes=("head.fc.",), in_chans_conv: Optional[str] = None) -> None:
    """Fail before timm's loader with the first missing/unexpected keys and the variant the checkpoint looks like.

    ``check_state_dict`` with what timm adapts itself left out: ``ignore_prefixes`` (the classifier when
    num_classes differs) and ``in_chans_conv`` (the stem conv whose input channels follow ``in_chans``).
    """
    check_state_dict(model, state_dict, source, guess, ignore_prefixes=tuple(ignore_prefixes),
                     in_chans_conv=in_chans_conv)


def _family_builder(generation: Optional[str]):
    """Official kwargs → ``VMamba``; with a ``generation`` ("v0", "v2") kwargs of the other generation are refused."""
    def build(official_kwargs: Mapping) -> nn.Module:
        got = official_generation(official_kwargs)
        if generation is not None and got != generation:
            raise ValueError(f"official kwargs have forward_type={official_kwargs.get('forward_type')!r} "
                             f"(VMamba {got}) but family 'vmamba_{generation}' was requested; use family "
                             f"'vmamba_{got}' or 'vmamba' (auto-detect).")
        return lazy("visionssm.models.vmamba", "VMamba")(**official_kwargs_to_ours(official_kwargs))
    return build


for _family, _gen in (("vmamba", None), ("vmamba_v0", "v0"), ("vmamba_v2", "v2")):
    register_family(FamilyConverter(_family, build=_family_builder(_gen), convert=convert_vmamba_state_dict,
                                    guess_variant=lazy("visionssm.models.vmamba", "guess_variant")))
