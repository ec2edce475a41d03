"""Registers :mod:`atrous.nn.functional`'s tensor functions with atrous's torch.fx front end, so
an analysed model that calls them is read exactly (private; imported by the functional module).
"""

from __future__ import annotations

from typing import Any

from .functional import (
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


def _register_fx() -> None:
    try:
        from ..fx import register_function
    except ImportError:  # pragma: no cover - the analysis front end is optional here
        return
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
