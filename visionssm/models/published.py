"""Published facts about every registered variant: official results with their source, papers, citations.

One place for numbers we did not measure, so model cards, docs and tests quote them consistently. Every row names
the document it was read from, pinned to the official repository commit the converters were checked against
(``FamilyFacts.commit``); nothing here is derived from our own runs.
Throughput figures are the authors' (GPU) numbers and only comparable with each other.
"""
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class Source:
    title: str
    url: str


@dataclass(frozen=True)
class Result:
    """One published metric. ``setting`` says what was run (detector and schedule, crop size, checkpoint)."""

    task: str       # Hugging Face task id: image-classification, object-detection, semantic-segmentation
    dataset: str    # ImageNet-1k, COCO, ADE20K
    metric: str     # top-1, top-5, box AP, mask AP, mIoU (ss), mIoU (ms)
    value: float
    setting: str
    source: str     # key of SOURCES


@dataclass(frozen=True)
class VariantFacts:
    official_name: str
    params_m: Optional[float]      # as printed by the source (rounded there)
    gflops: Optional[float]        # the source's FLOPs at 224² (VMamba convention, see visionssm.benchmark)
    source: str
    throughput: Optional[str] = None   # the source's own throughput figure, with its hardware
    results: Tuple[Result, ...] = ()


@dataclass(frozen=True)
class FamilyFacts:
    title: str
    paper_id: str
    repo: str
    commit: str
    description: str
    bibtex: str
    license_note: str
    fixtures: Tuple[Tuple[str, Tuple[str, ...]], ...] = field(default=())  # (fixture dir, variants it anchors)
    datasets: Tuple[str, ...] = ("ImageNet-1k",)  # what the released weights were trained on (cards, front matter)


_VMAMBA_PERF = "vmamba_performance"
_VIM = "vim_readme"
_EVM = "efficient_vmamba_readme"
_MSV = "msvmamba_readme"
_SPM = "spatial_mamba_readme"
_VSSD = "vssd_readme"
_PLM = "plainmamba_readme"
_EVIM = "efficientvim_readme"
_EVIM_DET = "efficientvim_det_logs"
_EVIM_SEG = "efficientvim_seg_log"
_RSM = "rsmamba_configs"

SOURCES: Dict[str, Source] = {
    _VMAMBA_PERF: Source("MzeroMiko/VMamba assets/performance.md (README 'Main Results')",
                         "https://github.com/MzeroMiko/VMamba/blob/2ed52ead062a51a64521ed3871d52914bf532876/assets/performance.md"),
    _VIM: Source("hustvl/Vim README",
                 "https://github.com/hustvl/Vim/blob/dd0358ad1e42701f22afbefa0717cc8825cf9f45/README.md"),
    _EVM: Source("TerryPei/EfficientVMamba README",
                 "https://github.com/TerryPei/EfficientVMamba/blob/0bc5ee288b402d648641f5494b73e9d152e0c62b/README.md"),
    _MSV: Source("YuHengsss/MSVMamba README (master)",
                 "https://github.com/YuHengsss/MSVMamba/blob/c39401918e94f11eb29e4932b901b3fd139f1377/README.md"),
    _SPM: Source("EdwardChasel/Spatial-Mamba README",
                 "https://github.com/EdwardChasel/Spatial-Mamba/blob/71221ebfaa5fe797445be0292f0ec7048fe457c1/README.md"),
    _VSSD: Source("YuHengsss/VSSD readme",
                  "https://github.com/YuHengsss/VSSD/blob/87b753b356dd0cd176a6356fdb82fa536d8435eb/readme.md"),
    _PLM: Source("ChenhongyiYang/PlainMamba README",
                 "https://github.com/ChenhongyiYang/PlainMamba/blob/0975a1d0d8bca50e7b85cf15e53de2a383ae12a0/README.md"),
    _EVIM: Source("mlvlab/EfficientViM README",
                  "https://github.com/mlvlab/EfficientViM/blob/304340cb9c339b61669250d058525c9cdadd5e93/README.md"),
    _EVIM_DET: Source("mlvlab/EfficientViM detection/logs (last evaluation of efficientViM_mask_rcnn.json, "
                      "efficientViM_retina.json)",
                      "https://github.com/mlvlab/EfficientViM/tree/304340cb9c339b61669250d058525c9cdadd5e93/detection/logs"),
    _EVIM_SEG: Source("mlvlab/EfficientViM segmentation/logs/efficientViM_ade20k.json (best evaluation)",
                      "https://github.com/mlvlab/EfficientViM/blob/304340cb9c339b61669250d058525c9cdadd5e93/"
                      "segmentation/logs/efficientViM_ade20k.json"),
    _RSM: Source("KyanChen/RSMamba configs/rsmamba (rsmamba_{uc,aid,nwpu}_{b,l,h}.py) and RSMamba.arch_zoo",
                 "https://github.com/KyanChen/RSMamba/tree/3fa3056316f1412851e484384e9f206e0a11bf2b/configs/rsmamba"),
}

_IN1K = ("image-classification", "ImageNet-1k")


def _top1(value: float, source: str, setting: str = "224x224") -> Result:
    return Result(*_IN1K, "top-1", value, setting, source)


def _top5(value: float, source: str, setting: str = "224x224") -> Result:
    return Result(*_IN1K, "top-5", value, setting, source)


def _mrcnn(box: float, mask: float, schedule: str, source: str) -> Tuple[Result, Result]:
    setting = f"Mask R-CNN {schedule}"
    return (Result("object-detection", "COCO", "box AP", box, setting, source),
            Result("object-detection", "COCO", "mask AP", mask, setting, source))


def _upernet(ss: Optional[float], ms: Optional[float], source: str) -> Tuple[Result, ...]:
    setting = "UperNet 160k, 512x512"
    out = [Result("semantic-segmentation", "ADE20K", "mIoU (ss)", ss, setting, source)] if ss is not None else []
    if ms is not None:
        out.append(Result("semantic-segmentation", "ADE20K", "mIoU (ms)", ms, setting, source))
    return tuple(out)


def _vmamba(name, top1, params, gflops, tp, train_tp, dets=(), seg=None) -> VariantFacts:
    results = (_top1(top1, _VMAMBA_PERF),)
    for box, mask, schedule in dets:
        results += _mrcnn(box, mask, schedule, _VMAMBA_PERF)
    if seg:
        results += _upernet(*seg, _VMAMBA_PERF)
    return VariantFacts(name, params, gflops, _VMAMBA_PERF,
                        f"{tp} img/s inference, {train_tp} img/s training (A100, batch 128, authors' table)", results)


def _simple(name, source, top1, params, gflops, dets=(), seg=None, extra=()) -> VariantFacts:
    results = (_top1(top1, source),) + tuple(extra)
    for box, mask, schedule in dets:
        results += _mrcnn(box, mask, schedule, source)
    if seg:
        results += _upernet(*seg, source)
    return VariantFacts(name, params, gflops, source, None, results)


def _efficientvim(name, e300, e450, dist, params, mflops, size=224, downstream=()) -> VariantFacts:
    res = f"{size}x{size}"
    results = (_top1(e300, _EVIM, f"{res}, 300 epochs (EfficientViM_{name}_e300.pth)"),
               _top1(e450, _EVIM, f"{res}, 450 epochs (EfficientViM_{name}_e450.pth)"),
               _top1(dist, _EVIM, f"{res}, 300 epochs with DeiT distillation (efficientvim_{name.lower()}_dist in timm)"))
    return VariantFacts(f"EfficientViM-{name}", params, mflops / 1000, _EVIM, None, results + tuple(downstream))


PUBLISHED: Dict[str, VariantFacts] = {
    # VMamba: assets/performance.md (the README's full table)
    "vmamba_tiny": _vmamba("Vanilla-VMamba-T", 82.2, 23, 5.6, 638, 195,
                           [(46.5, 42.1, "1x"), (48.5, 43.2, "3x (multi-scale)")], (47.3, 48.3)),
    "vmamba_small": _vmamba("Vanilla-VMamba-S", 83.5, 44, 11.2, 359, 111,
                            [(48.2, 43.0, "1x"), (49.7, 44.0, "3x (multi-scale)")], (49.5, 50.5)),
    "vmamba_base": _vmamba("Vanilla-VMamba-B", 83.7, 76, 18.0, 268, 84, [(48.6, 43.3, "1x")], (50.0, 51.3)),
    "vmamba_tiny_s2l5": _vmamba("VMamba-T[s2l5]", 82.5, 31, 4.9, 1340, 464,
                                [(47.4, 42.7, "1x"), (48.9, 43.7, "3x (multi-scale)")], (48.3, 48.6)),
    "vmamba_small_s2l15": _vmamba("VMamba-S[s2l15]", 83.6, 50, 8.7, 877, 314,
                                  [(48.7, 43.7, "1x"), (49.9, 44.2, "3x (multi-scale)")], (50.6, 51.2)),
    "vmamba_base_s2l15": _vmamba("VMamba-B[s2l15]", 83.9, 89, 15.4, 646, 247, [(49.2, 44.1, "1x")], (51.0, 51.6)),
    "vmamba_tiny_s1l8": _vmamba("VMamba-T[s1l8]", 82.6, 30, 4.9, 1686, 571,
                                [(47.3, 42.7, "1x"), (48.8, 43.7, "3x (multi-scale)")], (47.9, 48.8)),
    "vmamba_small_s1l20": _vmamba("VMamba-S[s1l20]", 83.3, 49, 8.6, 1106, 390),
    "vmamba_base_s1l20": _vmamba("VMamba-B[s1l20]", 83.8, 87, 15.2, 827, 313),
    # Vim: README table (no FLOPs or downstream numbers there)
    "vim_tiny": _simple("Vim-tiny", _VIM, 76.1, 7, None, extra=(_top5(93.0, _VIM),)),
    "vim_tiny_stride8": _simple("Vim-tiny+", _VIM, 78.3, 7, None,
                                extra=(_top5(94.2, _VIM),)),
    "vim_small": _simple("Vim-small", _VIM, 80.5, 26, None, extra=(_top5(95.1, _VIM),)),
    "vim_small_stride8": _simple("Vim-small+", _VIM, 81.6, 26, None, extra=(_top5(95.4, _VIM),)),
    "vim_base": _simple("Vim-base", _VIM, 81.9, 98, None, extra=(_top5(95.8, _VIM),)),
    # EfficientVMamba: README table (classification only)
    "efficient_vmamba_tiny": _simple("EfficientVMamba-T", _EVM, 76.5, 6, 0.8),
    "efficient_vmamba_small": _simple("EfficientVMamba-S", _EVM, 78.7, 11, 1.3),
    "efficient_vmamba_base": _simple("EfficientVMamba-B", _EVM, 81.8, 33, 4.0),
    # MSVMamba: master README
    "msvmamba_nano": _simple("MSVMamba-Nano", _MSV, 77.3, 7, 0.9),
    "msvmamba_micro": _simple("MSVMamba-Micro", _MSV, 79.8, 12, 1.5,
                              [(43.8, 39.9, "1x"), (46.3, 41.8, "3x")], (45.1, 45.4)),
    "msvmamba_tiny": _simple("MSVMamba-Tiny", _MSV, 82.8, 33, 4.6,
                             [(46.9, 42.2, "1x"), (48.3, 43.2, "3x")], (47.8, None)),
    # Spatial-Mamba: README
    "spatial_mamba_tiny": _simple("Spatial-Mamba-T", _SPM, 83.5, 27, 4.5,
                                  [(47.6, 42.9, "1x"), (49.3, 43.6, "3x")], (48.6, 49.4)),
    "spatial_mamba_small": _simple("Spatial-Mamba-S", _SPM, 84.6, 43, 7.1,
                                   [(49.2, 44.0, "1x"), (50.5, 44.6, "3x")], (50.6, 51.4)),
    "spatial_mamba_base": _simple("Spatial-Mamba-B", _SPM, 85.3, 96, 15.8, [(50.4, 45.1, "1x")], (51.8, 52.6)),
    # VSSD: readme (the MESA rows are separate checkpoints, not the default weights)
    "vssd_micro": _simple("VSSD-Micro", _VSSD, 82.5, 14, 2.3,
                          [(45.4, 41.3, "1x"), (47.7, 42.8, "3x")], (45.6, 46.0)),
    "vssd_tiny": _simple("VSSD-Tiny", _VSSD, 83.6, 24, 4.5, [(46.9, 42.6, "1x"), (48.8, 43.6, "3x")], (47.9, 48.7),
                         extra=(_top1(84.1, _VSSD, "224x224, trained with MESA (vssd_tiny_e300_with_mesa.pth)"),)),
    "vssd_small": _simple("VSSD-Small", _VSSD, 84.1, 40, 7.4, [(48.4, 43.5, "1x"), (50.0, 44.6, "3x")],
                          extra=(_top1(84.5, _VSSD, "224x224, trained with MESA (vssd_small_e300_with_mesa.pth)"),)),
    "vssd_base": _simple("VSSD-Base", _VSSD, 84.7, 89, 16.1,
                         extra=(_top1(85.4, _VSSD, "224x224, trained with MESA (vssd_base_e300_with_mesa.pth)"),)),
    # PlainMamba: README (its Mask R-CNN rows use the PlainMamba-Adapter, a different detection backbone)
    "plainmamba_l1": _simple("PlainMamba-L1", _PLM, 77.9, 7.3, None, seg=(44.1, None), extra=(_top5(94.0, _PLM),)),
    "plainmamba_l2": _simple("PlainMamba-L2", _PLM, 81.6, 25.7, None, seg=(46.8, None), extra=(_top5(95.6, _PLM),)),
    "plainmamba_l3": _simple("PlainMamba-L3", _PLM, 82.3, 50.5, None, seg=(49.1, None), extra=(_top5(95.9, _PLM),)),
    # EfficientViM: README tables (FLOPs at the listed resolution; M4 at 256x256), downstream: the official logs
    "efficientvim_m1": _efficientvim("M1", 72.9, 73.5, 74.6, 6.7, 239),
    "efficientvim_m2": _efficientvim("M2", 75.4, 75.8, 76.7, 13.9, 355),
    "efficientvim_m3": _efficientvim("M3", 77.6, 77.9, 79.1, 16.6, 656),
    "efficientvim_m4": _efficientvim("M4", 79.4, 79.6, 80.7, 19.6, 1111, size=256, downstream=(
        Result("object-detection", "COCO", "box AP", 39.7, "Mask R-CNN 1x, EfficientViTFPN neck", _EVIM_DET),
        Result("object-detection", "COCO", "mask AP", 36.4, "Mask R-CNN 1x, EfficientViTFPN neck", _EVIM_DET),
        Result("object-detection", "COCO", "box AP", 38.8, "RetinaNet 1x, EfficientViTFPN neck", _EVIM_DET),
        Result("semantic-segmentation", "ADE20K", "mIoU (ss)", 41.3, "Semantic FPN 40k (8 GPUs), 512x512",
               _EVIM_SEG))),
    # RSMamba: the README has no results table and the paper reports per-dataset scores, not one per variant here
    "rsmamba_b": VariantFacts("RSMamba-B", None, None, _RSM),
    "rsmamba_l": VariantFacts("RSMamba-L", None, None, _RSM),
    "rsmamba_h": VariantFacts("RSMamba-H", None, None, _RSM),
}

FAMILY_FACTS: Dict[str, FamilyFacts] = {
    "vmamba": FamilyFacts(
        title="VMamba: Visual State Space Model", paper_id="arXiv:2401.10166",
        repo="https://github.com/MzeroMiko/VMamba", commit="2ed52ead062a51a64521ed3871d52914bf532876",
        description=(
            "A hierarchical (4-stage) backbone whose token mixer is SS2D: the feature map is read along four "
            "cross-scan routes (row-major, column-major and both reversed), each route runs its own selective "
            "scan (S6) and the four outputs are summed back onto the grid. The vanilla (v0) models use d_state 16 "
            "and no MLP; the v2 models ('s1l8', 's2l5', ...) use d_state 1, channels-first layers and an MLP."),
        bibtex="""@article{liu2024vmamba,
  title={VMamba: Visual State Space Model},
  author={Liu, Yue and Tian, Yunjie and Zhao, Yuzhong and Yu, Hongtian and Xie, Lingxi and Wang, Yaowei and Ye, Qixiang and Liu, Yunfan},
  journal={arXiv preprint arXiv:2401.10166},
  year={2024}
}""",
        license_note="official repository: MIT License",
        fixtures=(("vmamba_v0", ("vmamba_tiny", "vmamba_small", "vmamba_base")),
                  ("vmamba_v2", ("vmamba_tiny_s1l8", "vmamba_small_s1l20", "vmamba_base_s1l20", "vmamba_tiny_s2l5",
                                 "vmamba_small_s2l15", "vmamba_base_s2l15")))),
    "vim": FamilyFacts(
        title="Vision Mamba: Efficient Visual Representation Learning with Bidirectional State Space Model",
        paper_id="arXiv:2401.09417", repo="https://github.com/hustvl/Vim",
        commit="dd0358ad1e42701f22afbefa0717cc8825cf9f45",
        description=(
            "A plain (non-hierarchical) ViT-like backbone: 16x16 patches plus a class token in the middle of the "
            "sequence, 24 bidirectional Mamba blocks (one forward and one backward selective scan per block, "
            "averaged), RMSNorm, and a linear head on the class token. The '+' / stride-8 models were fine-tuned "
            "with overlapping patches (stride 8)."),
        bibtex="""@inproceedings{vim,
  title={Vision Mamba: Efficient Visual Representation Learning with Bidirectional State Space Model},
  author={Zhu, Lianghui and Liao, Bencheng and Zhang, Qian and Wang, Xinlong and Liu, Wenyu and Wang, Xinggang},
  booktitle={Forty-first International Conference on Machine Learning},
  year={2024}
}""",
        license_note="official repository: Apache License 2.0",
        fixtures=(("vim", ("vim_tiny", "vim_small", "vim_base", "vim_tiny_stride8", "vim_small_stride8")),)),
    "efficient_vmamba": FamilyFacts(
        title="EfficientVMamba: Atrous Selective Scan for Light Weight Visual Mamba", paper_id="arXiv:2403.09977",
        repo="https://github.com/TerryPei/EfficientVMamba", commit="0bc5ee288b402d648641f5494b73e9d152e0c62b",
        description=(
            "A light-weight hierarchical backbone. Stages 1-2 use EVSS blocks: an atrous (skip-sampling) selective "
            "scan over four disjoint 2x-strided sub-grids next to a convolution branch, both gated by a shared "
            "channel attention; stages 3-4 use MobileNetV2 inverted-residual blocks."),
        bibtex="""@article{pei2024efficientvmamba,
  title={EfficientVMamba: Atrous Selective Scan for Light Weight Visual Mamba},
  author={Pei, Xiaohuan and Huang, Tao and Xu, Chang},
  journal={arXiv preprint arXiv:2403.09977},
  year={2024}
}""",
        license_note="the official repository has no LICENSE file",
        fixtures=(("efficientvmamba", ("efficient_vmamba_tiny", "efficient_vmamba_small", "efficient_vmamba_base")),)),
    "msvmamba": FamilyFacts(
        title="Multi-Scale VMamba: Hierarchy in Hierarchy Visual State Space Model", paper_id="arXiv:2405.14174",
        repo="https://github.com/YuHengsss/MSVMamba", commit="c39401918e94f11eb29e4932b901b3fd139f1377",
        description=(
            "A VMamba-style hierarchical backbone with a multi-scale 2D scan: one full-resolution row scan plus "
            "three scan routes over a 2x-downsampled copy of the map (concatenated into one sequence), upsampled "
            "and added, followed by squeeze-excitation and a ConvFFN. This is the master-branch architecture "
            "(the v2 branch is a different model)."),
        bibtex="""@article{shi2024multiscale,
  title={Multi-Scale VMamba: Hierarchy in Hierarchy Visual State Space Model},
  author={Yuheng Shi and Minjing Dong and Chang Xu},
  journal={arXiv preprint arXiv:2405.14174},
  year={2024}
}""",
        license_note="the official repository has no LICENSE file",
        fixtures=(("msvmamba", ("msvmamba_nano", "msvmamba_micro", "msvmamba_tiny")),)),
    "spatial_mamba": FamilyFacts(
        title="Spatial-Mamba: Effective Visual State Space Models via Structure-Aware State Fusion",
        paper_id="arXiv:2410.15091", repo="https://github.com/EdwardChasel/Spatial-Mamba",
        commit="71221ebfaa5fe797445be0292f0ec7048fe457c1",
        description=(
            "A hierarchical backbone with one unidirectional selective scan per block whose hidden states are "
            "fused spatially (structure-aware state fusion: three dilated depthwise 3x3 convolutions over the "
            "state map) before the read-out with C; convolutional position encodings and MLPs around it."),
        bibtex="""@article{xiao2024spatialmamba,
  title={Spatial-Mamba: Effective Visual State Space Models via Structure-Aware State Fusion},
  author={Chaodong Xiao and Minghan Li and Zhengqiang Zhang and Deyu Meng and Lei Zhang},
  journal={arXiv preprint arXiv:2410.15091},
  year={2024}
}""",
        license_note="official repository: Apache License 2.0",
        fixtures=(("spatial_mamba", ("spatial_mamba_tiny", "spatial_mamba_small", "spatial_mamba_base")),)),
    "vssd": FamilyFacts(
        title="VSSD: Vision Mamba with Non-Causal State Space Duality", paper_id="arXiv:2407.18559",
        repo="https://github.com/YuHengsss/VSSD", commit="87b753b356dd0cd176a6356fdb82fa536d8435eb",
        description=(
            "A hierarchical backbone whose token mixer is non-causal state space duality (NC-SSD): the Mamba2 "
            "SSD form with the causal mask removed, computed as a global linear attention (no recurrent scan); "
            "the last stage uses standard multi-head self-attention."),
        bibtex="""@article{shi2024vssd,
  title={VSSD: Vision Mamba with Non-Causal State Space Duality},
  author={Yuheng Shi and Minjing Dong and Mingjia Li and Chang Xu},
  journal={arXiv preprint arXiv:2407.18559},
  year={2024}
}""",
        license_note="the official repository has no LICENSE file",
        fixtures=(("vssd", ("vssd_micro", "vssd_tiny", "vssd_small", "vssd_base")),)),
    "plainmamba": FamilyFacts(
        title="PlainMamba: Improving Non-Hierarchical Mamba in Visual Recognition", paper_id="arXiv:2403.17695",
        repo="https://github.com/ChenhongyiYang/PlainMamba", commit="0975a1d0d8bca50e7b85cf15e53de2a383ae12a0",
        description=(
            "A plain (non-hierarchical) backbone at a constant /16 resolution: a small convolutional stem, then "
            "identical 2D Mamba layers. Each layer runs a depthwise 7x7 conv and four selective scans along "
            "zig-zag (snake) routes that always step to a grid neighbour, with one shared set of SSM parameters "
            "and a learned bias on B for the direction of each step; the four outputs are summed. No class token: "
            "mean pooling and a linear head."),
        bibtex="""@inproceedings{Yang_2024_BMVC,
  author={Chenhongyi Yang and Zehui Chen and Miguel Espinosa and Linus Ericsson and Zhenyu Wang and Jiaming Liu and Elliot J. Crowley},
  title={PlainMamba: Improving Non-Hierarchical Mamba in Visual Recognition},
  booktitle={35th British Machine Vision Conference 2024, {BMVC} 2024, Glasgow, UK, November 25-28, 2024},
  publisher={BMVA},
  year={2024}
}""",
        license_note="official repository: Apache License 2.0",
        fixtures=(("plainmamba", ("plainmamba_l1", "plainmamba_l2", "plainmamba_l3")),)),
    "efficientvim": FamilyFacts(
        title="EfficientViM: Efficient Vision Mamba with Hidden State Mixer based State Space Duality",
        paper_id="arXiv:2411.15241", repo="https://github.com/mlvlab/EfficientViM",
        commit="304340cb9c339b61669250d058525c9cdadd5e93",
        description=(
            "A light-weight 3-stage backbone (a stride-16 convolutional stem, then strides 16, 32, 64) whose token "
            "mixer is HSM-SSD: the SSD dual form as two matrix products over a small hidden state (49/25/9 states), "
            "with the channel mixing and gating applied to the hidden state instead of the tokens; no scan order. "
            "The classifier fuses the pooled hidden states of every stage with the pooled final map. The model is "
            "timm's implementation (timm >= 1.0.30); visionssm converts the official checkpoints into it."),
        bibtex="""@inproceedings{lee2025efficientvim,
  title={EfficientViM: Efficient Vision Mamba with Hidden State Mixer based State Space Duality},
  author={Lee, Sanghyeok and Choi, Joonmyung and Kim, Hyunwoo J.},
  booktitle={Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition},
  year={2025}
}""",
        license_note="official repository: MIT License",
        fixtures=(("efficientvim", ("efficientvim_m1", "efficientvim_m2", "efficientvim_m3", "efficientvim_m4")),)),
    "rsmamba": FamilyFacts(
        title="RSMamba: Remote Sensing Image Classification with State Space Model", paper_id="arXiv:2403.19654",
        repo="https://github.com/KyanChen/RSMamba", commit="3fa3056316f1412851e484384e9f206e0a11bf2b",
        description=(
            "A plain (non-hierarchical) Mamba for remote-sensing scene classification: 16x16 patches at stride 8, a "
            "learned position embedding, no class token. Every layer runs one Mamba mixer along three token orders "
            "(forward, reversed and randomly shuffled: the 'shuffle' scan) and fuses them with a learned softmax "
            "gate over their mean-pooled outputs; the image feature is the normalised token mean. The official code "
            "draws a new shuffle at every forward, also at inference; here inference uses a fixed, seeded shuffle per "
            "layer (training reshuffles as the official code does). The authors released fine-tunes on UC Merced, "
            "AID and NWPU-RESISC45 (no ImageNet model); the paper's abstract reports F1 95.25 / 92.63 / 95.18 on "
            "those datasets for its best model."),
        bibtex="""@article{chen2024rsmamba,
  title={RSMamba: Remote Sensing Image Classification with State Space Model},
  author={Chen, Keyan and Chen, Bowen and Liu, Chenyang and Li, Wenyuan and Zou, Zhengxia and Shi, Zhenwei},
  journal={IEEE Geoscience and Remote Sensing Letters},
  year={2024}
}""",
        license_note="official repository: Apache License 2.0",
        fixtures=(("rsmamba", ("rsmamba_b", "rsmamba_l", "rsmamba_h")),),
        datasets=("UC Merced", "AID", "NWPU-RESISC45")),
}


# Parameter counts (millions) to more digits than the tables above print, for tests that compare the full-size
# models with the official ones. Where the authors give no more precise figure, the count is the official model
# class (at the commit in FAMILY_FACTS) instantiated with the released config and counted.
PARAM_COUNTS: Dict[str, float] = {
    "vmamba_tiny": 22.9,          # official: 22,893,448
    "vmamba_small": 44.42,        # official: 44,417,416
    "vmamba_base": 76.25,         # official: 76,254,056
    "vmamba_tiny_s2l5": 30.7,     # official: 30,705,832
    "vmamba_small_s2l15": 50.0,   # README "50M" (official: 50,147,752)
    "vmamba_base_s2l15": 89.0,    # README "89M" (official: 88,557,800)
    "vmamba_tiny_s1l8": 30.2,     # README "30M" (official: 30,249,064)
    "vmamba_small_s1l20": 49.01,  # official: 49,012,840
    "vmamba_base_s1l20": 86.61,   # official: 86,614,504
    # Vim README "#param." (whole millions); the stride-8 fine-tunes add only a longer position embedding
    "vim_tiny": 7, "vim_tiny_stride8": 7, "vim_small": 26, "vim_small_stride8": 26, "vim_base": 98,
    # EfficientVMamba: the official training logs of the release (log_efficient_vmamba_{tiny,small,base}.txt)
    "efficient_vmamba_tiny": 6.494, "efficient_vmamba_small": 11.274, "efficient_vmamba_base": 33.717,
    # MSVMamba: comments of the official configs vssm_{nano,micro,tiny}_224_ms.yaml ("ms version: 6.86M / ...")
    "msvmamba_nano": 6.86, "msvmamba_micro": 11.88, "msvmamba_tiny": 33.08,
    # Spatial-Mamba README and paper Table 1 (the official code builds 26.75M / 43.07M / 95.75M)
    "spatial_mamba_tiny": 27.0, "spatial_mamba_small": 43.0, "spatial_mamba_base": 96.0,
    # VSSD readme "#params" (whole millions)
    "vssd_micro": 14, "vssd_tiny": 24, "vssd_small": 40, "vssd_base": 89,
    # PlainMamba README "#Params (M)" (the official code builds 7,551,656 / 26,145,832 / 50,956,456)
    "plainmamba_l1": 7.3, "plainmamba_l2": 25.7, "plainmamba_l3": 50.5,
    # EfficientViM README "#params" (timm's models count 6,679,458 / 13,903,842 / 16,604,174 / 19,606,505)
    "efficientvim_m1": 6.7, "efficientvim_m2": 13.9, "efficientvim_m3": 16.6, "efficientvim_m4": 19.6,
    # RSMamba: no published counts; the released architectures (RSMamba.arch_zoo, 224x224, UC Merced's 21 classes)
    # counted here; tests/models/test_rsmamba.py checks our count equals the official class's on the fixture
    "rsmamba_b": 6.381, "rsmamba_l": 16.247, "rsmamba_h": 33.053,
}


def family_fixture(family: str, variant: str) -> Optional[str]:
    """The parity-fixture folder (official outputs, ``config.json``) that anchors ``variant``'s architecture, if any."""
    for fixture, variants in FAMILY_FACTS[family].fixtures:
        if variant in variants:
            return fixture
    return None


__all__ = ["Source", "Result", "VariantFacts", "FamilyFacts", "SOURCES", "PUBLISHED", "FAMILY_FACTS", "PARAM_COUNTS",
           "family_fixture"]
