"""Output shapes of the common CNN calls on meta tensors, without torch's meta kernels (private).

The shape run (:func:`atrous.fx.tracing._propagate`) executes the traced graph on ``meta``
tensors. Many of torch's meta kernels are Python (``torch._meta_registrations``, ``torch._refs``):
0.1-10 ms a call where the size formula costs microseconds, and the first one of a process
imports ``sympy`` through ``torch._check`` (about 1.5 s). For the calls a CNN is made of (a plain
convolution, pooling, adaptive pooling, linear layer, as modules or functionals; elementwise
arithmetic of two tensors or of a tensor and a Python number; ``mean``, ``sum``, ``cat``,
``softmax``, ``log_softmax``; ``interpolate`` to a size or by a scale factor) the output is built
here from the size formula; anything unusual (a hook, an unbatched or non-contiguous input, mixed
dtypes, a size torch would refuse, an argument not covered) returns None, and the real meta call
runs and raises its own error.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from typing import Any

__all__ = ["function_shortcut", "method_shortcut", "module_shortcut", "register_shape"]


def _tuple(v: Any, nd: int) -> tuple[int, ...] | None:
    if isinstance(v, int) and not isinstance(v, bool):
        return (v,) * nd
    if isinstance(v, (tuple, list)) and len(v) == nd and all(
            isinstance(i, int) and not isinstance(i, bool) for i in v):
        return tuple(v)
    return None


def _meta(x: Any, nd: int | None = None) -> bool:
    """A contiguous floating meta tensor (with ``nd`` spatial axes and a batch axis)."""
    import torch

    return (isinstance(x, torch.Tensor) and x.is_meta and x.dtype.is_floating_point
            and (nd is None or x.dim() == nd + 2) and x.is_contiguous())


def _empty(shape: Any, like: Any) -> Any:
    import torch

    return torch.empty(tuple(shape), dtype=like.dtype, device="meta")


def _plain(mod: Any) -> bool:
    """No hook and no patched forward: calling the module is its class's forward."""
    from torch.nn.modules import module as nn_module

    return not (mod._forward_pre_hooks or mod._forward_hooks or "forward" in vars(mod)
                or nn_module._global_forward_pre_hooks or nn_module._global_forward_hooks)


def _pool_size(n: int, k: int, s: int, p: int, d: int, ceil: bool) -> int | None:
    """torch's pooling_output_shape; None where torch refuses (padding over half the kernel,
    an empty output)."""
    if s < 1 or k < 1 or d < 1 or p < 0 or p > k // 2:
        return None
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out if out >= 1 else None


def _weight_like(w: Any, x: Any) -> bool:
    """A module weight of the input's dtype: on the meta device, or a plain tensor or
    parameter whose meta copy (what the shape run would swap in) would be. The output's shape
    does not depend on where the weight lives."""
    import torch

    if not isinstance(w, torch.Tensor) or w.dtype != x.dtype:
        return False
    return w.is_meta or type(w) in (torch.Tensor, torch.nn.Parameter)


def _conv_sizes(x: Any, kernel: Any, stride: Any, padding: Any, dilation: Any) -> Any:
    """The output sizes of a convolution of ``x`` (batched, its spatial axes) by a kernel of
    the given sizes; None where torch refuses (padded input smaller than the dilated kernel)."""
    sizes = []
    for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation):
        span = n + 2 * p - d * (k - 1) - 1
        if span < 0:
            return None
        sizes.append(span // s + 1)
    return sizes


def _conv(mod: Any, x: Any) -> Any:
    nd = len(mod.kernel_size)
    w = mod.weight
    if not (_meta(x, nd) and _weight_like(w, x) and x.shape[1] == mod.in_channels):
        return None
    if isinstance(mod.padding, str):
        if mod.padding != "same":
            return None
        sizes = list(x.shape[2:])
    else:
        sizes = _conv_sizes(x, mod.kernel_size, mod.stride, mod.padding, mod.dilation)
        if sizes is None:
            return None
    return _empty((x.shape[0], mod.out_channels, *sizes), x)


def _positive(v: Any, nd: int, least: int = 1) -> tuple[int, ...] | None:
    """``v`` as ``nd`` ints (one int for all axes), each at least ``least``; else None."""
    t = _tuple(v, nd)
    return t if t is not None and all(i >= least for i in t) else None


def _same_meta(t: Any, x: Any) -> bool:
    """A contiguous meta tensor of ``x``'s dtype (a weight or bias argument)."""
    import torch

    return (isinstance(t, torch.Tensor) and t.is_meta and t.dtype == x.dtype
            and t.is_contiguous())


def _conv_fn(nd: int) -> Callable[..., Any]:
    """``F.conv{nd}d(x, weight, bias, stride, padding, dilation, groups)`` on a batched input:
    int or tuple arguments, ``"same"`` (stride 1) or ``"valid"`` padding."""

    def shape(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
              dilation: Any = 1, groups: Any = 1) -> Any:
        if not (_meta(x, nd) and _same_meta(weight, x) and weight.dim() == nd + 2):
            return None
        if bias is not None and not (_same_meta(bias, x) and tuple(bias.shape) == (
                weight.shape[0],)):
            return None
        if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
            return None
        c_out, c_in, kernel = weight.shape[0], weight.shape[1], weight.shape[2:]
        if c_out < 1 or c_out % groups or c_in * groups != x.shape[1] or min(kernel) < 1:
            return None
        s, d = _positive(stride, nd), _positive(dilation, nd)
        if s is None or d is None or 0 in x.shape[2:]:
            return None
        if isinstance(padding, str) and padding == "same":
            return _empty((x.shape[0], c_out, *x.shape[2:]), x) if set(s) == {1} else None
        p = (0,) * nd if isinstance(padding, str) and padding == "valid" else _positive(
            padding, nd, 0)
        sizes = None if p is None else _conv_sizes(x, kernel, s, p, d)
        return None if sizes is None else _empty((x.shape[0], c_out, *sizes), x)

    return shape


def _pooled(nd: int, x: Any, kernel: Any, stride: Any, padding: Any, dilation: Any,
            ceil: bool) -> Any:
    """A max or average pooling's output (a stride of None or ``()`` is the kernel's)."""
    if not _meta(x, nd):
        return None
    k = _tuple(kernel, nd)
    s = _tuple(kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride)
               else stride, nd)
    p = _tuple(padding, nd)
    d = _tuple(dilation, nd)
    if k is None or s is None or p is None or d is None:
        return None
    sizes = [_pool_size(n, ki, si, pi, di, ceil)
             for n, ki, si, pi, di in zip(x.shape[2:], k, s, p, d)]
    if any(v is None for v in sizes):
        return None
    return _empty((*x.shape[:2], *sizes), x)


def _pool(nd: int, dilated: bool) -> Callable[[Any, Any], Any]:
    def shape(mod: Any, x: Any) -> Any:
        if getattr(mod, "return_indices", False):
            return None
        return _pooled(nd, x, mod.kernel_size, mod.stride, mod.padding,
                       mod.dilation if dilated else 1, bool(mod.ceil_mode))

    return shape


def _max_pool_fn(nd: int) -> Callable[..., Any]:
    """``F.max_pool{nd}d`` (and ``torch.max_pool{nd}d``) without indices."""

    def shape(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
              ceil_mode: Any = False, return_indices: Any = False) -> Any:
        if return_indices is not False or not isinstance(ceil_mode, bool):
            return None
        return _pooled(nd, x, kernel_size, stride, padding, dilation, ceil_mode)

    return shape


def _torch_max_pool_fn(nd: int) -> Callable[..., Any]:
    """``torch.max_pool{nd}d`` (no ``return_indices``; a stride of ``()`` is the kernel's)."""
    fn = _max_pool_fn(nd)

    def shape(x: Any, kernel_size: Any, stride: Any = (), padding: Any = 0, dilation: Any = 1,
              ceil_mode: Any = False) -> Any:
        return fn(x, kernel_size, stride, padding, dilation, ceil_mode)

    return shape


def _avg_pool_fn(nd: int) -> Callable[..., Any]:
    """``F.avg_pool{nd}d``; a ``divisor_override`` (not taken in 1-d) only if positive."""

    def shape(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
              ceil_mode: Any = False, count_include_pad: Any = True,
              divisor_override: Any = None) -> Any:
        if not (isinstance(ceil_mode, bool) and isinstance(count_include_pad, bool)):
            return None
        if divisor_override is not None and (nd == 1 or _positive(divisor_override, 1) is None):
            return None
        return _pooled(nd, x, kernel_size, stride, padding, 1, ceil_mode)

    return shape


def _adapted(nd: int, x: Any, size: Any) -> Any:
    """An adaptive pooling's output; a None in a tuple keeps the input's size on that axis (in
    2-d and 3-d only: the 1-d functions take ints alone; a bare None is refused by all)."""
    if not _meta(x, nd) or 0 in x.shape[2:]:
        return None
    if isinstance(size, int):
        size = (size,) * nd
    elif not isinstance(size, (tuple, list)):
        return None
    if len(size) != nd or any(
            (v is None and nd == 1) or (v is not None and (
                not isinstance(v, int) or isinstance(v, bool) or v < 1)) for v in size):
        return None
    out = [n if v is None else v for n, v in zip(x.shape[2:], size)]
    return _empty((*x.shape[:2], *out), x)


def _adaptive(nd: int) -> Callable[[Any, Any], Any]:
    def shape(mod: Any, x: Any) -> Any:
        if getattr(mod, "return_indices", False):
            return None
        return _adapted(nd, x, mod.output_size)

    return shape


def _adaptive_avg_fn(nd: int) -> Callable[..., Any]:
    def shape(x: Any, output_size: Any) -> Any:
        return _adapted(nd, x, output_size)

    return shape


def _adaptive_max_fn(nd: int) -> Callable[..., Any]:
    def shape(x: Any, output_size: Any, return_indices: Any = False) -> Any:
        return None if return_indices is not False else _adapted(nd, x, output_size)

    return shape


def _linear(mod: Any, x: Any) -> Any:
    """Any layout of the input (the product is a new contiguous tensor)."""
    import torch

    w = mod.weight
    if not (isinstance(x, torch.Tensor) and x.is_meta and x.dtype.is_floating_point
            and x.dim() >= 1 and _weight_like(w, x) and x.shape[-1] == mod.in_features):
        return None
    return _empty((*x.shape[:-1], mod.out_features), x)


def _linear_fn(x: Any, weight: Any, bias: Any = None) -> Any:
    """``F.linear``: any layout of the input, as the module; a bias of the output's width."""
    import torch

    if not (isinstance(x, torch.Tensor) and x.is_meta and x.dtype.is_floating_point
            and x.dim() >= 1 and _same_meta(weight, x) and weight.dim() == 2
            and x.shape[-1] == weight.shape[1]):
        return None
    if bias is not None and not (_same_meta(bias, x) and tuple(bias.shape) == (
            weight.shape[0],)):
        return None
    return _empty((*x.shape[:-1], weight.shape[0]), x)


def _softmax_module(mod: Any, x: Any) -> Any:
    return _softmax(x, mod.dim)


_MODULES: dict[type, Callable[[Any, Any], Any]] = {}


def module_shortcut(mod: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The meta output of ``mod(*args, **kwargs)`` for a plain conv, pool, adaptive pool,
    linear, softmax or log-softmax module on a usual input; None otherwise."""
    if not _MODULES:
        import torch.nn as nn

        for nd in (1, 2, 3):
            _MODULES[getattr(nn, f"Conv{nd}d")] = _conv
            _MODULES[getattr(nn, f"MaxPool{nd}d")] = _pool(nd, True)
            _MODULES[getattr(nn, f"AvgPool{nd}d")] = _pool(nd, False)
            _MODULES[getattr(nn, f"AdaptiveAvgPool{nd}d")] = _adaptive(nd)
            _MODULES[getattr(nn, f"AdaptiveMaxPool{nd}d")] = _adaptive(nd)
        _MODULES[nn.Linear] = _linear
        _MODULES[nn.Softmax] = _MODULES[nn.LogSoftmax] = _softmax_module
    shape = _MODULES.get(type(mod))
    if shape is None or len(args) != 1 or kwargs or not _plain(mod):
        return None
    return shape(mod, args[0])


def _row_major(t: Any) -> bool:
    """The strides fall from axis to axis, over the axes that are neither of size 1 nor
    broadcast (stride 0): contiguous, or an ``expand`` of a contiguous tensor."""
    import torch

    if not (isinstance(t, torch.Tensor) and t.is_meta and t.dtype.is_floating_point):
        return False
    strides = [st for n, st in zip(t.shape, t.stride()) if n > 1 and st != 0]
    return all(u > v for u, v in itertools.pairwise(strides))


def _broadcast(a: Any, b: Any) -> Any:
    """Two tensors of one dtype, one contiguous with the result's shape and the other row-major
    (a gate expanded over the pixels): the broadcast shape, contiguous like torch's output
    (``torch.broadcast_shapes`` itself goes through ``torch._refs``)."""
    if not (_row_major(a) and _row_major(b) and a.dtype == b.dtype):
        return None
    sa, sb = tuple(a.shape), tuple(b.shape)
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    out = []
    for u, v in zip(sa, sb):
        if u != v and 1 not in (u, v):
            return None  # torch raises its own error
        out.append(u if v == 1 else v)
    if not any(_meta(t) and tuple(t.shape) == tuple(out) for t in (a, b)):
        return None  # torch's output layout follows its inputs': not worth guessing
    return _empty(out, a)


def _scalar(t: Any, v: Any) -> Any:
    """A contiguous floating tensor and a Python int or float (not a bool, not a complex, an int
    torch can hold): torch keeps the tensor's shape, dtype and layout."""
    if not _meta(t) or type(v) not in (int, float) or (type(v) is int and not (
            -2 ** 63 <= v < 2 ** 63)):
        return None
    return _empty(t.shape, t)


def _arithmetic(a: Any, b: Any) -> Any:
    """Two tensors (broadcast), or a tensor and a Python number on either side."""
    import torch

    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return _broadcast(a, b)
    return _scalar(a, b) if isinstance(a, torch.Tensor) else _scalar(b, a)


def _softmax(x: Any, dim: Any = None, _stacklevel: Any = 3, dtype: Any = None) -> Any:
    """``F.softmax`` / ``F.log_softmax`` (and the methods) along a given axis: the input's
    shape; an implicit axis (None) or a ``dtype`` goes to torch."""
    if not _meta(x) or dtype is not None or not isinstance(dim, int) or isinstance(dim, bool):
        return None
    nd = x.dim()
    return _empty(x.shape, x) if nd and -nd <= dim < nd else None


def _softmax_method(x: Any, dim: Any, dtype: Any = None) -> Any:
    """``torch.softmax(x, dim, dtype)`` and ``x.softmax(dim, dtype)`` (no ``_stacklevel``)."""
    return _softmax(x, dim, 3, dtype)


def _mean(x: Any, *args: Any, **kwargs: Any) -> Any:
    """``x.mean(dim, keepdim)`` or ``x.sum(dim, keepdim)``: the reduced shape; no argument at
    all: the whole tensor (a 0-d tensor)."""
    if not _meta(x) or len(args) > 2 or set(kwargs) - {"dim", "keepdim"}:
        return None
    if not args and not kwargs:
        return _empty((), x)
    dim = args[0] if args else kwargs.get("dim")
    keep = args[1] if len(args) > 1 else kwargs.get("keepdim", False)
    if not isinstance(keep, bool) or dim is None:
        return None
    dims = _tuple(dim, 1) if isinstance(dim, int) else _tuple(dim, len(dim))
    nd = x.dim()
    if dims is None or not dims or any(not -nd <= d < nd for d in dims):
        return None
    axes = {d % nd for d in dims}
    if len(axes) != len(dims):
        return None
    shape = [1 if i in axes else n for i, n in enumerate(x.shape) if keep or i not in axes]
    return _empty(shape, x)


def _cat(tensors: Any, dim: Any = 0) -> Any:
    if not isinstance(tensors, (list, tuple)) or not tensors or not isinstance(dim, int):
        return None
    first = tensors[0]
    if not all(_meta(t) and t.dtype == first.dtype and t.dim() == first.dim() for t in tensors):
        return None
    nd = first.dim()
    if nd == 0 or not -nd <= dim < nd:
        return None
    dim %= nd
    if any(t.shape[:dim] != first.shape[:dim] or t.shape[dim + 1:] != first.shape[dim + 1:]
           for t in tensors):
        return None
    shape = list(first.shape)
    shape[dim] = sum(int(t.shape[dim]) for t in tensors)
    return _empty(shape, first)


_MODES = {3: ("nearest", "nearest-exact", "linear", "area"),
          4: ("nearest", "nearest-exact", "bilinear", "bicubic", "area"),
          5: ("nearest", "nearest-exact", "trilinear", "area")}


def _scaled(n: int, s: Any) -> int | None:
    """torch's output size for input size ``n`` and scale factor ``s`` (F.interpolate's rule
    with ``recompute_scale_factor``, ``upsample_compute_output_size``'s without: both truncate
    the float product, an integral factor multiplies exactly); None for a factor that is not a
    finite positive Python number, an empty output or one too large for a tensor."""
    import math

    if type(s) not in (int, float) or not (math.isfinite(s) and s > 0):
        return None
    out = n * int(s) if int(s) == s else int(n * s)
    return out if 1 <= out < 2 ** 62 else None


def _interpolate(x: Any, size: Any = None, scale_factor: Any = None, mode: Any = "nearest",
                 align_corners: Any = None, recompute_scale_factor: Any = None,
                 antialias: Any = False) -> Any:
    """``F.interpolate`` to a given ``size`` or by a ``scale_factor`` (one number or one per
    spatial axis), without antialiasing."""
    if not _meta(x) or x.dim() not in _MODES or (size is None) == (scale_factor is None):
        return None
    nd = x.dim() - 2
    if mode not in _MODES[x.dim()] or 0 in x.shape[2:]:
        return None
    linear = mode in ("linear", "bilinear", "bicubic", "trilinear")
    if (align_corners is not None and not (linear and isinstance(align_corners, bool))) or (
            antialias not in (False, None)) or recompute_scale_factor not in (None, False, True):
        return None
    if size is not None:
        out = _tuple(size, nd)
        if out is None or any(v < 1 for v in out) or recompute_scale_factor:
            return None
    else:
        scales = (scale_factor if isinstance(scale_factor, (tuple, list))
                  else (scale_factor,) * nd)
        if len(scales) != nd:
            return None
        sizes = [_scaled(n, s) for n, s in zip(x.shape[2:], scales)]
        if any(v is None for v in sizes):
            return None
        out = tuple(int(v) for v in sizes if v is not None)
    return _empty((*x.shape[:2], *out), x)


_FUNCTIONS: dict[Any, Callable[..., Any]] = {}
_REGISTERED: dict[Any, Callable[..., Any]] = {}
"""Shape functions given by :func:`register_shape` (the functionals of :mod:`atrous.nn`)."""


def register_shape(fn: Callable[..., Any], shape: Callable[..., Any]) -> None:
    """Answer ``fn``'s calls in the shape run by ``shape`` (same arguments; it returns the meta
    output, or None to run ``fn``): how :mod:`atrous.nn` gives its functionals' shapes.

    >>> import torch
    >>> def twice(x):
    ...     return torch.cat([x, x], -1)
    >>> register_shape(twice, lambda x: torch.empty(*x.shape[:-1], 2 * x.shape[-1],
    ...                                             device="meta"))
    >>> function_shortcut(twice, (torch.empty(1, 2, 3, device="meta"),), {}).shape
    torch.Size([1, 2, 6])
    >>> del _REGISTERED[twice]  # (the example leaves nothing registered)
    """
    _REGISTERED[fn] = shape


def function_shortcut(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The meta output of ``fn(*args, **kwargs)`` for elementwise arithmetic on two tensors or
    a tensor and a number, ``torch.mean``/``sum``, ``torch.cat``, softmax and log-softmax,
    ``F.interpolate``, and the functional convolution, pooling, adaptive pooling and linear
    layer; None otherwise."""
    if not _FUNCTIONS:
        import torch
        import torch.nn.functional as F

        for op in (operator.add, operator.mul, operator.sub, operator.truediv, torch.add,
                   torch.mul, torch.sub, torch.div):
            _FUNCTIONS[op] = lambda a, b: _arithmetic(a, b)
        _FUNCTIONS[torch.mean] = _FUNCTIONS[torch.sum] = _mean
        _FUNCTIONS[torch.cat] = _cat
        _FUNCTIONS[F.interpolate] = _interpolate
        _FUNCTIONS[F.softmax] = _FUNCTIONS[F.log_softmax] = _softmax
        _FUNCTIONS[torch.softmax] = _FUNCTIONS[torch.log_softmax] = _softmax_method
        _FUNCTIONS[F.linear] = _linear_fn
        for nd in (1, 2, 3):
            _FUNCTIONS[getattr(F, f"conv{nd}d")] = _conv_fn(nd)
            _FUNCTIONS[getattr(F, f"max_pool{nd}d")] = _max_pool_fn(nd)
            _FUNCTIONS[getattr(torch, f"max_pool{nd}d")] = _torch_max_pool_fn(nd)
            _FUNCTIONS[getattr(F, f"avg_pool{nd}d")] = _avg_pool_fn(nd)
            _FUNCTIONS[getattr(F, f"adaptive_avg_pool{nd}d")] = _adaptive_avg_fn(nd)
            _FUNCTIONS[getattr(F, f"adaptive_max_pool{nd}d")] = _adaptive_max_fn(nd)
    try:
        shape = _FUNCTIONS.get(fn) or _REGISTERED.get(fn)
    except TypeError:  # an unhashable callable
        return None
    if shape is None:
        return None
    try:
        return shape(*args, **kwargs)
    except TypeError:  # arguments this shortcut does not take: torch decides
        return None


def method_shortcut(name: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The meta output of ``args[0].mean(...)``, ``.sum(...)``, ``.softmax(dim)`` or
    ``.log_softmax(dim)``; None for anything else."""
    shape = _METHODS.get(name) if isinstance(name, str) else None
    if shape is None or not args:
        return None
    try:
        return shape(*args, **kwargs)
    except TypeError:
        return None


_METHODS: dict[str, Callable[..., Any]] = {"mean": _mean, "sum": _mean,
                                           "softmax": _softmax_method,
                                           "log_softmax": _softmax_method}
