"""Layer descriptions of the Python API: what to compute, not where it runs.

Tensors are numpy float32 arrays in HWC layout (batch 1). Weights follow TFLite:
Conv2D (out_channels, kernel_h, kernel_w, in_channels // groups), FullyConnected (out, K)
where K = H * W * C of the input in HWC order; bias (out,).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

Activation = Literal["none", "relu", "relu6", "leaky_relu", "relu_n1_to_1"]  # relu_n1_to_1: int8 only
# "same" (TFLite: out = ceil(in / stride)), "valid", or explicit (top, bottom, left, right).
Padding = Union[Literal["same", "valid"], tuple[int, int, int, int]]


@dataclass(frozen=True)
class Conv2D:
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: Padding = "valid"
    groups: int = 1
    activation: Activation = "none"
    alpha: float = 0.0


@dataclass(frozen=True)
class MaxPool:
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: Padding = "valid"
    activation: Activation = "none"
    alpha: float = 0.0


@dataclass(frozen=True)
class AvgPool:
    """Average over the window's real pixels: padding is excluded from the count, as in TFLite."""

    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: Padding = "valid"
    activation: Activation = "none"
    alpha: float = 0.0


@dataclass(frozen=True)
class GlobalAvgPool:
    pass


@dataclass(frozen=True)
class FullyConnected:
    out_channels: int
    activation: Activation = "none"
    alpha: float = 0.0


@dataclass(frozen=True)
class Add:
    activation: Activation = "none"
    alpha: float = 0.0


@dataclass(frozen=True)
class Activate:
    """A standalone activation."""

    activation: Activation
    alpha: float = 0.0


@dataclass(frozen=True)
class Softmax:
    """Softmax over channels, per pixel."""


@dataclass(frozen=True)
class Concat:
    """Concatenation along channels of inputs that share height and width."""


@dataclass(frozen=True)
class Reshape:
    shape: tuple[int, int, int]


Layer = Union[Conv2D, MaxPool, AvgPool, GlobalAvgPool, FullyConnected, Add, Activate, Softmax, Concat, Reshape]
