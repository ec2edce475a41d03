"""Registers :mod:`atrous.nn.functional`'s tensor functions with atrous's torch.fx front end, so
an analysed model that calls them is read exactly (private; imported by the functional module).
"""

from __future__ import annotations

import functools
from typing import Any

from ._dilated import meta_conv
from .functional import (
    _causal_args,
    _check_gate_input,
    _depthwise_groups,
    causal_dilated_conv1d,
    channel_shuffle,
    depthwise_conv2d,
    dilated_conv1d,
    dilated_conv2d,
    dilated_conv3d,
    gated_activation,
)


def _fx_conv(call: Any) -> Any:
    """``dilated_conv{1,2,3}d`` / ``depthwise_conv2d`` / ``causal_dilated_conv1d`` -> Conv."""
    from ..fx import Unsupported
    from ..layers import Conv

    weight = tuple(call.arg(1, "weight").shape)
    kernel = weight[2:]
    if len(kernel) != call.ndim:
        raise Unsupported(f"a {len(kernel)}-D convolution in a {call.ndim}-D model")
    bias = call.arg(2, "bias") is not None
    if call.name == "causal_dilated_conv1d":
        d = call.arg(3, "dilation", 1)
        groups = call.arg(4, "groups", 1)
        stride: Any = 1
        padding: Any = ((d * (kernel[0] - 1), 0),)
    else:
        stride = call.arg(3, "stride", 1)
        padding = call.arg(4, "padding", 0 if call.name.startswith("dilated") else "same")
        d = call.arg(5, "dilation", 1)
        if call.name == "depthwise_conv2d":
            groups = call.inputs[0].shape[1] if call.inputs else weight[0]
        else:
            groups = call.arg(6, "groups", 1)
        if call.arg(8, "padding_mode", "zeros") != "zeros":
            raise Unsupported(
                "padding_mode other than 'zeros' changes which pixels a border "
                "unit reads; it is not modelled"
            )
    return Conv(
        kernel,
        stride,
        padding,
        d,
        groups,
        ndim=call.ndim,
        in_channels=weight[1] * groups,
        out_channels=weight[0],
        bias=bias,
        size=call.in_spatial,
    )


def _fx_pointwise(call: Any) -> Any:
    from ..layers import Pointwise

    return Pointwise(call.name)


def _causal_shape(x: Any, weight: Any, bias: Any = None, dilation: Any = 1,
                  groups: Any = 1) -> Any:
    """``causal_dilated_conv1d`` in the shape run: the dilated convolution it makes (its own
    checks, in its own order and words)."""
    return meta_conv(1, *_causal_args(x, weight, bias, dilation, groups))


def _depthwise_shape(x: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = "same", dilation: Any = 1) -> Any:
    return meta_conv(2, x, weight, bias, stride, padding, dilation, _depthwise_groups(x))


def _gate_shape(z: Any) -> Any:
    _check_gate_input(z)
    if not z.is_meta or not z.dtype.is_floating_point:
        return None
    return z.new_empty((z.shape[0], z.shape[1] // 2, *z.shape[2:]))


def _register_fx() -> None:
    try:
        from ..fx import register_function
        from ..fx.meta_shapes import register_shape
    except ImportError:  # pragma: no cover - the analysis front end is optional here
        return
    # shapes by formula in the shape run (torch's meta kernels for these are Python, and the
    # first call of a process imports sympy and torch._dynamo: 0.4-1.5 s)
    for ndim, conv in ((1, dilated_conv1d), (2, dilated_conv2d), (3, dilated_conv3d)):
        register_shape(conv, functools.partial(meta_conv, ndim))
    register_shape(causal_dilated_conv1d, _causal_shape)
    register_shape(depthwise_conv2d, _depthwise_shape)
    register_shape(gated_activation, _gate_shape)
    for fn in (
        dilated_conv1d,
        dilated_conv2d,
        dilated_conv3d,
        depthwise_conv2d,
        causal_dilated_conv1d,
    ):
        register_function(fn, _fx_conv)
    for op in (channel_shuffle, gated_activation):
        register_function(op, _fx_pointwise)


_register_fx()
