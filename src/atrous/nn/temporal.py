"""Causal dilated 1-D convolutions and WaveNet/TCN stacks.

A causal convolution pads ``d*(k-1)`` zeros on the left only, so output ``t`` never sees an input
after ``t``; stacking rates ``1, 2, 4, ..., 2^(n-1)`` grows the receptive field to
``1 + (k-1)*(2^n - 1)`` with ``n`` layers and no gaps (WaveNet, TCN).

    >>> import torch
    >>> stack = CausalDilatedStack(8, num_layers=5)
    >>> stack.dilations, stack.receptive_field
    ((1, 2, 4, 8, 16), 32)
    >>> stack(torch.randn(2, 8, 50)).shape
    torch.Size([2, 8, 50])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.fx
from torch import Tensor, nn

from .._types import Ints, as_int
from ..errors import AtrousError
from .conv import (
    ActivationFactory,
    DilatedConv1d,
    _biases,
    _DilatedConvNd,
    _make_activation,
    _weights,
)
from .functional import causal_dilated_conv1d, causal_dilated_stack

torch.fx.wrap("causal_dilated_conv1d")  # a leaf of torch.fx.symbolic_trace, as in functional

__all__ = ["CausalDilatedConv1d", "CausalDilatedStack"]


class CausalDilatedConv1d(_DilatedConvNd):
    """Causal dilated 1-D convolution: left padding ``d*(k-1)``, no look-ahead, length kept.

    ``state_dict`` keys ``weight``/``bias`` as ``nn.Conv1d``; functional twin
    :func:`atrous.nn.functional.causal_dilated_conv1d`.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: taps (default 2, as WaveNet).
        dilation: >= 1.
        groups: channel groups.
        bias: add a bias.

    Attributes:
        receptive_field: ``d*(k-1) + 1`` past-and-present inputs per output.

    Shape:
        - input: ``(N, C_in, L)``
        - output: ``(N, C_out, L)``

    >>> CausalDilatedConv1d(1, 1, 3, dilation=4)
    CausalDilatedConv1d(1, 1, kernel_size=(3,), dilation=(4,), causal padding=(8, 0))
    """

    _ndim = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 2,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        k = as_int(kernel_size, "kernel_size", 1)
        d = as_int(dilation, "dilation", 1)
        super().__init__(in_channels, out_channels, k, 1, ((d * (k - 1), 0),), d, groups, bias)

    @property
    def receptive_field(self) -> int:
        """``d*(k-1) + 1``."""
        return self.dilation[0] * (self.kernel_size[0] - 1) + 1

    def forward(self, x: Tensor) -> Tensor:
        return causal_dilated_conv1d(x, self.weight, self.bias, self.dilation[0], self.groups)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"dilation={self.dilation}, causal padding={self.padding[0]}"
        )
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class CausalDilatedStack(nn.Module):
    """A WaveNet/TCN stack of causal dilated convolutions (rates ``2^i`` by default).

    Layer ``i``: ``z = CausalDilatedConv1d(dilations[i])(x)``; plain: ``h = activation(z)``;
    ``gated=True``: WaveNet's ``h = proj(tanh(z_f) * sigmoid(z_g))`` with a 1x1 projection;
    then ``x = x + h`` (``residual``) or ``x = h``. Functional twin:
    :func:`atrous.nn.functional.causal_dilated_stack`.

    Args:
        channels: input = output channels.
        num_layers: layers when ``dilations`` is not given (rates ``1, 2, ..., 2^(n-1)``);
            default 4.
        kernel_size: taps per layer (default 2).
        dilations: an explicit schedule instead.
        gated: WaveNet's gated activation with a 1x1 projection.
        residual: add each layer's input to its output.
        activation: class/factory or module for the plain (ungated) layers (default
            ``nn.ReLU``), or None.

    Attributes:
        dilations: the schedule.
        receptive_field: ``1 + (k-1)*sum(dilations)``.

    Shape:
        - input: ``(N, C, L)``
        - output: ``(N, C, L)``

    >>> CausalDilatedStack(4, kernel_size=3, dilations=[1, 3, 9], gated=True).receptive_field
    27
    """

    def __init__(
        self,
        channels: int,
        num_layers: int | None = None,
        kernel_size: int = 2,
        dilations: Sequence[int] | None = None,
        gated: bool = False,
        residual: bool = True,
        activation: ActivationFactory | nn.Module | None = nn.ReLU,
    ) -> None:
        super().__init__()
        c = as_int(channels, "channels", 1)
        k = as_int(kernel_size, "kernel_size", 1)
        if dilations is None:
            n = 4 if num_layers is None else as_int(num_layers, "num_layers", 1)
            rates = tuple(2**i for i in range(n))
        else:
            if (
                isinstance(dilations, (str, bytes))
                or not isinstance(dilations, Sequence)
                or (not dilations)
            ):
                raise AtrousError(
                    f"dilations must be a non-empty sequence of ints, got {dilations!r}"
                )
            rates = tuple(as_int(d, f"dilation #{i}", 1) for i, d in enumerate(dilations))
            if num_layers is not None and as_int(num_layers, "num_layers", 1) != len(rates):
                raise AtrousError(
                    f"num_layers={num_layers} disagrees with the {len(rates)} "
                    f"dilations {list(rates)}"
                )
        self.dilations: Ints = rates
        self.kernel_size = k
        self.gated = bool(gated)
        self.residual = bool(residual)
        width = 2 * c if self.gated else c
        self.convs = nn.ModuleList(CausalDilatedConv1d(c, width, k, d) for d in rates)
        self.projections = (
            nn.ModuleList(DilatedConv1d(c, c, 1) for _ in rates) if self.gated else None
        )
        self.activation = None if self.gated else _make_activation(activation)

    @property
    def receptive_field(self) -> int:
        """``1 + (k - 1) * sum(dilations)``."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)

    def forward(self, x: Tensor) -> Tensor:
        proj = self.projections
        return causal_dilated_stack(
            x,
            _weights(self.convs),
            self.dilations,
            _biases(self.convs),
            self.gated,
            self.residual,
            None if proj is None else _weights(proj),
            None if proj is None else _biases(proj),
            self.activation,
        )

    def extra_repr(self) -> str:
        text = (
            f"{self.convs[0].in_channels}, dilations={self.dilations}, "
            f"kernel_size={self.kernel_size}, receptive_field={self.receptive_field}"
        )
        if self.gated:
            text += ", gated=True"
        if not self.residual:
            text += ", residual=False"
        return text
