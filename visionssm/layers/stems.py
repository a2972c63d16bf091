"""MLLA's convolutional stem and downsampling, shared by Spatial-Mamba and VSSD.

Both families take these from MLLA (Han et al., "Demystify Mamba in Vision", arXiv:2405.16605); child names
follow MLLA's ``ConvLayer`` (``conv`` / ``norm`` / ``act``) so official checkpoints map key-for-key.
``channels_last`` makes a module read and/or write NHWC for bodies that run channels-last.
"""
import torch
from torch import nn


class ConvNormAct(nn.Module):
    """Conv2d → optional BatchNorm → optional ReLU (MLLA's ``ConvLayer``; same child names)."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int = 3, stride: int = 1, padding: int = 0,
                 groups: int = 1, bias: bool = True, norm: bool = True, act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, stride, padding, groups=groups, bias=bias)
        self.norm = nn.BatchNorm2d(out_chs) if norm else None
        self.act = nn.ReLU() if act else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.act is not None:
            x = self.act(x)
        return x


class MllaStem(nn.Module):
    """/4: 3×3 s2 conv → residual pair of 3×3 convs → 3×3 s2 conv to 4C → 1×1 to C (BN everywhere, no bias).

    Input NCHW; output NHWC when ``channels_last`` else NCHW.
    """

    def __init__(self, in_chans: int, embed_dim: int, channels_last: bool = False):
        super().__init__()
        half = embed_dim // 2
        self.channels_last = channels_last
        self.conv1 = ConvNormAct(in_chans, half, 3, 2, 1, bias=False)
        self.conv2 = nn.Sequential(ConvNormAct(half, half, 3, 1, 1, bias=False),
                                   ConvNormAct(half, half, 3, 1, 1, bias=False, act=False))
        self.conv3 = nn.Sequential(ConvNormAct(half, embed_dim * 4, 3, 2, 1, bias=False),
                                   ConvNormAct(embed_dim * 4, embed_dim, 1, bias=False, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.conv2(x) + x
        x = self.conv3(x)
        return x.permute(0, 2, 3, 1) if self.channels_last else x


class MllaDownsample(nn.Module):
    """/2 patch merging: 1×1 expand to ``ratio``·out (ReLU) → depthwise 3×3 s2 (ReLU) → 1×1 to out + BN.

    NHWC in and out when ``channels_last`` else NCHW.
    """

    def __init__(self, dim: int, out_dim: int, ratio: float = 4.0, channels_last: bool = False):
        super().__init__()
        hidden = int(out_dim * ratio)
        self.channels_last = channels_last
        self.conv = nn.Sequential(
            ConvNormAct(dim, hidden, 1, norm=False),
            ConvNormAct(hidden, hidden, 3, 2, 1, groups=hidden, norm=False),
            ConvNormAct(hidden, out_dim, 1, act=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            return self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.conv(x)
