"""Exact convolution arithmetic: output sizes, padding, inverses and worked formulas.

Every function takes an ``int`` (one axis, or the same value on every axis) or a per-axis tuple
(1-D, 2-D or 3-D) and returns the same form. The rules are PyTorch's, and where PyTorch raises
for a configuration these functions raise :class:`~atrous.errors.AtrousError` instead.

    >>> conv_output_size(64, kernel=3, dilation=2)
    60
    >>> conv_output_size((64, 48), kernel=3, stride=2, padding="same")
    (32, 24)
    >>> conv_input_size_range(60, kernel=3, dilation=2)
    (64, 64)
    >>> print(explain("conv", (64, 64), kernel=3, dilation=2))
    H_out = floor((64 + 2*0 - 2*(3-1) - 1)/1) + 1 = 60
    W_out = floor((64 + 2*0 - 2*(3-1) - 1)/1) + 1 = 60

This module is the public face; the code lives in private parts by subject:
:mod:`atrous._arith_conv` (convolution and transposed-convolution sizes, padding, inverses),
:mod:`atrous._arith_pool` (pooling, and :func:`~atrous._arith_pool.pool_params`, the one check
of a pooling's values that :class:`atrous.layers.Pool` uses too), :mod:`atrous._arith_explain`
(the worked formulas) and :mod:`atrous._arith_base` (argument types, padding forms, axis names).
"""

from __future__ import annotations

from ._arith_base import ExplainOp, PaddingArg, PoolMode, axis_names
from ._arith_base import is_padding_pairs as is_padding_pairs  # re-exported (shapes reads it)
from ._arith_base import padding_axes as padding_axes  # re-exported (shapes reads it)
from ._arith_conv import (
    conv_input_size_range,
    conv_output_size,
    conv_transpose_input_size_range,
    conv_transpose_output_size,
    effective_kernel_size,
    normalize_padding,
    output_padding_for,
    same_padding,
)
from ._arith_explain import explain
from ._arith_pool import pool_input_size_range, pool_output_size

_is_pairs = is_padding_pairs  # the name layers.py reads (arith._is_pairs)

for _function in (axis_names, conv_input_size_range, conv_output_size,
                  conv_transpose_input_size_range, conv_transpose_output_size,
                  effective_kernel_size, explain, normalize_padding, output_padding_for,
                  pool_input_size_range, pool_output_size, same_padding):
    _function.__module__ = __name__  # documented, imported and pickled as atrous.arith.X
del _function

__all__ = [
    "ExplainOp",
    "PaddingArg",
    "PoolMode",
    "axis_names",
    "conv_input_size_range",
    "conv_output_size",
    "conv_transpose_input_size_range",
    "conv_transpose_output_size",
    "effective_kernel_size",
    "explain",
    "normalize_padding",
    "output_padding_for",
    "pool_input_size_range",
    "pool_output_size",
    "same_padding",
]
