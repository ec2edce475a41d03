"""Output shapes of the common CNN calls on meta tensors, without torch's meta kernels (private).

The shape run (:func:`atrous.fx.tracing._propagate`) executes the traced graph on ``meta``
tensors. Many of torch's meta kernels are Python (``torch._meta_registrations``, ``torch._refs``):
0.1-10 ms a call where the size formula costs microseconds, and the first one of a process
imports ``sympy`` through ``torch._check`` (about 1.5 s). For the calls a CNN is made of (a plain
convolution, pooling, adaptive pooling, linear layer, elementwise arithmetic, ``mean``, ``cat``,
``interpolate`` to a given size) the output is built here from the size formula; anything
unusual (a hook, an unbatched or non-contiguous input, mixed dtypes, a size torch would refuse,
an argument not covered) returns None, and the real meta call runs and raises its own error.
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
        sizes = []
        for n, k, s, p, d in zip(x.shape[2:], mod.kernel_size, mod.stride, mod.padding,
                                 mod.dilation):
            span = n + 2 * p - d * (k - 1) - 1
            if span < 0:
                return None
            sizes.append(span // s + 1)
    return _empty((x.shape[0], mod.out_channels, *sizes), x)


def _pool(nd: int, dilated: bool) -> Callable[[Any, Any], Any]:
    def shape(mod: Any, x: Any) -> Any:
        if not _meta(x, nd) or getattr(mod, "return_indices", False):
            return None
        k = _tuple(mod.kernel_size, nd)
        s = _tuple(mod.stride if mod.stride is not None else mod.kernel_size, nd)
        p = _tuple(mod.padding, nd)
        d = _tuple(mod.dilation, nd) if dilated else (1,) * nd
        if k is None or s is None or p is None or d is None:
            return None
        ceil = bool(mod.ceil_mode)
        sizes = [_pool_size(n, ki, si, pi, di, ceil)
                 for n, ki, si, pi, di in zip(x.shape[2:], k, s, p, d)]
        if any(v is None for v in sizes):
            return None
        return _empty((*x.shape[:2], *sizes), x)

    return shape


def _adaptive(nd: int) -> Callable[[Any, Any], Any]:
    def shape(mod: Any, x: Any) -> Any:
        if not _meta(x, nd) or getattr(mod, "return_indices", False):
            return None
        size = mod.output_size  # a bare None, or a None in 1-d: torch's TypeError
        if size is None:
            return None
        size = (size,) * nd if isinstance(size, int) else tuple(size)
        if len(size) != nd or any((v is None and nd == 1) or (v is not None and (
                not isinstance(v, int) or v < 1)) for v in size) or 0 in x.shape[2:]:
            return None
        out = [n if v is None else v for n, v in zip(x.shape[2:], size)]
        return _empty((*x.shape[:2], *out), x)

    return shape


def _linear(mod: Any, x: Any) -> Any:
    """Any layout of the input (the product is a new contiguous tensor)."""
    import torch

    w = mod.weight
    if not (isinstance(x, torch.Tensor) and x.is_meta and x.dtype.is_floating_point
            and x.dim() >= 1 and _weight_like(w, x) and x.shape[-1] == mod.in_features):
        return None
    return _empty((*x.shape[:-1], mod.out_features), x)


_MODULES: dict[type, Callable[[Any, Any], Any]] = {}


def module_shortcut(mod: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The meta output of ``mod(*args, **kwargs)`` for a plain conv, pool, adaptive pool or
    linear module on a usual input; None otherwise."""
    if not _MODULES:
        import torch.nn as nn

        for nd in (1, 2, 3):
            _MODULES[getattr(nn, f"Conv{nd}d")] = _conv
            _MODULES[getattr(nn, f"MaxPool{nd}d")] = _pool(nd, True)
            _MODULES[getattr(nn, f"AvgPool{nd}d")] = _pool(nd, False)
            _MODULES[getattr(nn, f"AdaptiveAvgPool{nd}d")] = _adaptive(nd)
            _MODULES[getattr(nn, f"AdaptiveMaxPool{nd}d")] = _adaptive(nd)
        _MODULES[nn.Linear] = _linear
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


def _mean(x: Any, *args: Any, **kwargs: Any) -> Any:
    """``x.mean(dim, keepdim)``: the reduced shape."""
    if not _meta(x) or len(args) > 2 or set(kwargs) - {"dim", "keepdim"}:
        return None
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


def _interpolate(x: Any, size: Any = None, scale_factor: Any = None, mode: Any = "nearest",
                 align_corners: Any = None, recompute_scale_factor: Any = None,
                 antialias: Any = False) -> Any:
    """``F.interpolate`` to a given ``size`` (a scale factor goes to torch)."""
    if not _meta(x) or x.dim() not in _MODES or scale_factor is not None or size is None:
        return None
    nd = x.dim() - 2
    out = _tuple(size, nd)
    if out is None or any(v < 1 for v in out) or mode not in _MODES[x.dim()]:
        return None
    linear = mode in ("linear", "bilinear", "bicubic", "trilinear")
    if (align_corners is not None and not linear) or antialias not in (False, None) or (
            recompute_scale_factor not in (None, False)):
        return None
    return _empty((*x.shape[:2], *out), x)


_FUNCTIONS: dict[Any, Callable[..., Any]] = {}
_REGISTERED: dict[Any, Callable[..., Any]] = {}
"""Shape functions given by :func:`register_shape` (the functionals of :mod:`atrous.nn`)."""


def register_shape(fn: Callable[..., Any], shape: Callable[..., Any]) -> None:
    """Answer ``fn``'s calls in the shape run by ``shape`` (same arguments; it returns the meta
    output, or None to run ``fn``): how :mod:`atrous.nn` gives its functionals' shapes."""
    _REGISTERED[fn] = shape


def function_shortcut(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The meta output of ``fn(*args, **kwargs)`` for elementwise arithmetic on two tensors,
    ``torch.mean``, ``torch.cat`` and ``F.interpolate`` to a size; None otherwise."""
    if not _FUNCTIONS:
        import torch
        import torch.nn.functional as F

        for op in (operator.add, operator.mul, operator.sub, operator.truediv, torch.add,
                   torch.mul, torch.sub):
            _FUNCTIONS[op] = lambda a, b: _broadcast(a, b)
        _FUNCTIONS[torch.mean] = _mean
        _FUNCTIONS[torch.cat] = _cat
        _FUNCTIONS[F.interpolate] = _interpolate
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
    """The meta output of ``args[0].mean(...)``; None for anything else."""
    if name != "mean" or not args:
        return None
    try:
        return _mean(*args, **kwargs)
    except TypeError:
        return None
