"""Converters of ``torch.nn`` modules (installed on the first trace: they need torch)."""

from __future__ import annotations

from typing import Any

from ..layers import Conv, ConvTranspose, Layer, Pad, Pointwise, Pool
from .functions import (
    _conv_from,
    _global_or_adaptive,
    _im2col,
    _linear,
    _pad_pairs,
    _pool_mode,
    _reshape_like,
    _softmax,
    _tup,
    _upsample,
)
from .registry import _MODULES, _NORM_BASES, ModuleConverter, OpCall


def _m_conv(m: Any, call: OpCall) -> Layer:
    nd = call.ndim
    rev = m._reversed_padding_repeated_twice
    pairs = tuple((int(rev[2 * (nd - 1 - j)]), int(rev[2 * (nd - 1 - j) + 1]))
                  for j in range(nd))
    return _conv_from(call, tuple(m.weight.shape), m.stride, 0, m.dilation, m.groups,
                      m.bias is not None, pairs=pairs)


def _m_conv_t(m: Any, call: OpCall) -> Layer:
    nd = call.ndim
    layer = ConvTranspose(m.kernel_size, m.stride, m.padding, m.dilation, m.output_padding,
                          m.groups, ndim=nd, in_channels=m.in_channels,
                          out_channels=m.out_channels, bias=m.bias is not None)
    got = call.out_spatial
    if layer.output_size(call.in_spatial) != got:  # forward(x, output_size=...)
        base = ConvTranspose(m.kernel_size, m.stride, m.padding, m.dilation, 0, m.groups,
                             ndim=nd).output_size(call.in_spatial)
        extra = tuple(g - b for g, b in zip(got, base))
        layer = ConvTranspose(m.kernel_size, m.stride, m.padding, m.dilation, extra,
                              m.groups, ndim=nd, in_channels=m.in_channels,
                              out_channels=m.out_channels, bias=m.bias is not None)
    return layer


def _m_pool(m: Any, call: OpCall) -> Layer:
    nd = call.ndim
    mode = _pool_mode(type(m).__name__)
    k = _tup(m.kernel_size, nd)
    stride = k if m.stride is None else _tup(m.stride, nd)
    dil = _tup(getattr(m, "dilation", 1), nd)
    pad = _tup(getattr(m, "padding", 0), nd)
    return Pool(mode, k, stride, pad, dil, bool(getattr(m, "ceil_mode", False)), ndim=nd)


def _m_adaptive(m: Any, call: OpCall) -> Layer:
    return _global_or_adaptive(call, _pool_mode(type(m).__name__))


def _m_upsample(m: Any, call: OpCall) -> Layer:
    return _upsample(call, m.mode, getattr(m, "align_corners", None))


def _m_padmod(m: Any, call: OpCall) -> Layer:
    return Pad(_pad_pairs(m.padding, call.ndim), ndim=call.ndim)


def _m_pointwise(m: Any, call: OpCall) -> Layer:
    return Pointwise(type(m).__name__)


def _m_linear(m: Any, call: OpCall) -> Layer:
    return _linear(call)


def _m_reshape(m: Any, call: OpCall) -> Layer:
    return _reshape_like(call)


def _m_softmax(m: Any, call: OpCall) -> Layer:
    dim = getattr(m, "dim", None)
    return _softmax(OpCall(call.target, call.name, call.path, (None, dim), {}, call.inputs,
                           call.output, call.ndim))


def _m_shuffle_up(m: Any, call: OpCall) -> Layer:
    return _upsample(call, "nearest", None)


def _m_shuffle_down(m: Any, call: OpCall) -> Layer:
    r = int(m.downscale_factor)
    return Conv(r, stride=r, ndim=call.ndim)


def _m_lp_pool(m: Any, call: OpCall) -> Layer:
    nd = call.ndim
    k = _tup(m.kernel_size, nd)
    return Pool("avg", k, k if m.stride is None else _tup(m.stride, nd),
                ceil_mode=bool(m.ceil_mode), ndim=nd)


_ACTIVATION_MODULES = (
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU", "GELU", "SiLU",
    "Mish", "Sigmoid", "Tanh", "Hardswish", "Hardsigmoid", "Hardtanh", "Hardshrink",
    "Softshrink", "Softplus", "Softsign", "Tanhshrink", "Threshold", "LogSigmoid",
)
"""Activation modules (converted as pointwise; GLU halves the channels, also pointwise)."""


def _m_im2col(m: Any, call: OpCall) -> Layer:
    return _im2col(call)


def _install_module_converters() -> None:
    """Register the torch.nn converters (needs torch; called on the first trace)."""
    if _MODULES.get(_Sentinel) is not None:
        return
    import torch.nn as nn

    table: dict[Any, ModuleConverter] = {
        nn.modules.conv._ConvNd: _m_conv,
        nn.modules.conv._ConvTransposeNd: _m_conv_t,
        nn.modules.pooling._MaxPoolNd: _m_pool,
        nn.modules.pooling._AvgPoolNd: _m_pool,
        nn.modules.pooling._LPPoolNd: _m_lp_pool,
        nn.modules.pooling._AdaptiveAvgPoolNd: _m_adaptive,
        nn.modules.pooling._AdaptiveMaxPoolNd: _m_adaptive,
        nn.Upsample: _m_upsample,
        nn.modules.padding._ConstantPadNd: _m_padmod,
        nn.modules.padding._ReflectionPadNd: _m_padmod,
        nn.modules.padding._ReplicationPadNd: _m_padmod,
        nn.Linear: _m_linear,
        nn.Bilinear: _m_linear,
        nn.Flatten: _m_reshape,
        nn.Unflatten: _m_reshape,
        nn.Softmax: _m_softmax,
        nn.LogSoftmax: _m_softmax,
        nn.PixelShuffle: _m_shuffle_up,
        nn.PixelUnshuffle: _m_shuffle_down,
    }
    circ = getattr(nn.modules.padding, "_CircularPadNd", None)
    if circ is not None:
        table[circ] = _m_padmod
    for cls in (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm,
                nn.LocalResponseNorm, nn.modules.dropout._DropoutNd, nn.Identity,
                nn.ChannelShuffle, getattr(nn, "RMSNorm", nn.Identity)):
        table[cls] = _m_pointwise
    for name in _ACTIVATION_MODULES:
        table[getattr(nn, name)] = _m_pointwise
    table[nn.GLU] = _m_pointwise
    table[nn.Unfold] = _m_im2col
    table[nn.Fold] = _m_im2col
    _NORM_BASES.update([nn.modules.batchnorm._NormBase])
    for cls, fn in table.items():
        _MODULES.setdefault(cls, fn)
    _MODULES[_Sentinel] = _m_pointwise


class _Sentinel:
    """Marks that the torch.nn converters are installed."""


