"""Hybrid Dilated Convolution (HDC) blocks that check their own dilation schedule.

A stack of stride-1 dilated convolutions *grids* when some pixel inside its receptive-field box is
read by no path (the gridding tutorial's ``[2, 2, 2]`` sees only every other pixel).
:class:`HDCBlock` builds a residual stack from a given or generated schedule (the HDC paper's
sawtooth ``[1, 2, 3]`` repeated) and asks :func:`atrous.rules.hdc_check` -- the exact coverage
answer, not the order-dependent rule of thumb -- whether it grids; then warns
(:class:`GriddingWarning`), refuses (:class:`~atrous.errors.AtrousError`) or stays quiet, as
``on_gridding`` says.

    >>> import torch, warnings
    >>> HDCBlock(8, repeats=2).rates
    (1, 2, 3, 1, 2, 3)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = HDCBlock(8, rates=[2, 2, 2])
    >>> caught[0].category.__name__
    'GriddingWarning'
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn

from .._arith_base import check_choice
from .._types import Ints, as_int, as_ints
from ..errors import AtrousError
from ..rules import HDCResult, hdc_check
from .conv import (
    ActivationFactory,
    DilatedConv2d,
    NormFactory,
    _biases,
    _check_factory,
    _make_activation,
    _make_norm,
    _weights,
)
from .functional import dilated_stack

__all__ = ["GriddingPolicy", "GriddingWarning", "HDCBlock", "sawtooth"]

GriddingPolicy = Literal["warn", "error", "ignore"]
"""What :class:`HDCBlock` does with a schedule that grids."""


class GriddingWarning(UserWarning):
    """A dilation schedule leaves holes in its receptive field (the gridding effect)."""


def sawtooth(peak: int = 3, repeats: int = 1, start: int = 1) -> Ints:
    """The HDC paper's sawtooth schedule: ``start, start+1, ..., peak``, repeated.

    >>> sawtooth(3, repeats=2)
    (1, 2, 3, 1, 2, 3)
    >>> sawtooth(5, start=2)
    (2, 3, 4, 5)
    """
    lo = as_int(start, "start", 1)
    hi = as_int(peak, "peak", lo)
    n = as_int(repeats, "repeats", 1)
    return tuple(range(lo, hi + 1)) * n


class HDCBlock(nn.Module):
    """A residual stack of stride-1 ``"same"`` dilated convolutions with an HDC schedule.

    Layer ``i``: ``DilatedConv2d(channels, channels, kernel_size, dilation=rates[i])``, then
    ``norm``, then ``activation`` (except after the last layer); with ``residual`` the block
    returns ``activation(x + stack(x))`` (ResNet style), else ``activation(stack(x))``. The
    functional twin is :func:`atrous.nn.functional.dilated_stack`.

    Args:
        channels: input = output channels.
        rates: the dilation schedule, input side first; default ``sawtooth(3)`` = ``(1, 2, 3)``.
        kernel_size: of every layer (int or ``(k_h, k_w)``; even sizes work).
        repeats: how many times the schedule is repeated.
        residual: add the input before the final activation.
        norm: norm-layer class/factory called with ``channels`` (default ``nn.BatchNorm2d``),
            or None.
        activation: activation class/factory (default ``nn.ReLU``), or None.
        bias: conv biases; default: only when there is no norm.
        on_gridding: ``"warn"`` (:class:`GriddingWarning`), ``"error"``
            (:class:`~atrous.errors.AtrousError`) or ``"ignore"``.

    Attributes:
        rates: the full schedule.
        hdc: the :class:`atrous.rules.HDCResult` per axis (``(height, width)``).
        gridding_free: True when no axis grids.
        receptive_field: ``(k-1)*sum(rates) + 1`` per axis.

    Shape:
        - input: ``(N, C, H, W)``
        - output: ``(N, C, H, W)``

    >>> import torch
    >>> block = HDCBlock(4, rates=[1, 2, 5])
    >>> block.receptive_field, block.gridding_free
    ((17, 17), True)
    >>> block(torch.randn(2, 4, 12, 12)).shape
    torch.Size([2, 4, 12, 12])
    """

    def __init__(
        self,
        channels: int,
        rates: Sequence[int] | None = None,
        kernel_size: int | Sequence[int] = 3,
        repeats: int = 1,
        residual: bool = True,
        norm: NormFactory | None = nn.BatchNorm2d,
        activation: ActivationFactory | None = nn.ReLU,
        bias: bool | None = None,
        on_gridding: GriddingPolicy = "warn",
    ) -> None:
        super().__init__()
        check_choice(on_gridding, GriddingPolicy, "on_gridding")
        c = as_int(channels, "channels", 1)
        n = as_int(repeats, "repeats", 1)
        if rates is None:
            base = sawtooth(3)
        elif isinstance(rates, (str, bytes)) or not isinstance(rates, Sequence) or not rates:
            raise AtrousError(f"rates must be a non-empty sequence of ints, got {rates!r}")
        else:
            base = tuple(as_int(r, f"rate #{i}", 1) for i, r in enumerate(rates))
        self.rates: Ints = base * n
        self.kernel_size: Ints = as_ints(kernel_size, 2, "kernel_size", 1)
        self.residual = bool(residual)
        self.on_gridding: str = on_gridding
        # one norm per layer: a module instance would be shared by every layer
        _check_factory(norm, "norm", "nn.BatchNorm2d")
        use_bias = norm is None if bias is None else bool(bias)
        self.convs = nn.ModuleList(
            DilatedConv2d(c, c, self.kernel_size, dilation=r, bias=use_bias) for r in self.rates
        )
        norms = [_make_norm(norm, c) for _ in self.rates]
        self.norms = nn.ModuleList(norms) if norm is not None else None  # type: ignore[arg-type]
        self.activation = _make_activation(activation)
        self.hdc: tuple[HDCResult, ...] = tuple(hdc_check(self.rates, k) for k in self.kernel_size)
        if not self.gridding_free and on_gridding != "ignore":
            self._report_gridding()

    @property
    def gridding_free(self) -> bool:
        """True when every pixel of the receptive field is read (exact coverage, every axis)."""
        return all(result.gridding_free for result in self.hdc)

    @property
    def receptive_field(self) -> Ints:
        """``(k - 1) * sum(rates) + 1`` per axis."""
        return tuple((k - 1) * sum(self.rates) + 1 for k in self.kernel_size)

    def _report_gridding(self) -> None:
        bad = next(result for result in self.hdc if not result.gridding_free)
        message = (
            f"HDCBlock rates {list(self.rates)} with kernel {bad.kernel} grid (gridding "
            f"effect): {bad.explanations[0]} Use a sawtooth without a common factor, e.g. "
            f"{list(sawtooth(3))}, or on_gridding='ignore'."
        )
        if self.on_gridding == "error":
            raise AtrousError(message)
        warnings.warn(message, GriddingWarning, stacklevel=3)

    def forward(self, x: Tensor) -> Tensor:
        return dilated_stack(
            x,
            _weights(self.convs),
            self.rates,
            _biases(self.convs),
            self.norms,  # type: ignore[arg-type]
            self.activation,
            self.residual,
        )

    def extra_repr(self) -> str:
        k = self.kernel_size[0] if len(set(self.kernel_size)) == 1 else self.kernel_size
        text = f"{self.convs[0].in_channels}, rates={self.rates}, kernel_size={k}"
        if not self.residual:
            text += ", residual=False"
        if not self.gridding_free:
            text += ", gridding=True"
        return text
