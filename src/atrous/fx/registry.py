"""What converters see and the registry that maps torch modules and functions to layers."""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._types import Ints
from ..errors import AtrousError
from ..layers import Layer

__all__ = ["OpCall", "TensorInfo", "Unsupported", "register_function", "register_module"]


# -- what converters see ------------------------------------------------------------------------
@dataclass(frozen=True)
class TensorInfo:
    """A tensor as a converter sees it: its shape, whether it depends on the model input, and
    where its image axes are (``layout``, see :mod:`atrous.fx.layout`; None: the trailing axes).
    """

    shape: tuple[int, ...]
    live: bool = True
    layout: tuple[tuple[int, ...], ...] | None = None

    def spatial(self, ndim: int) -> Ints:
        """The image axes' sizes; ``(1,) * ndim`` for a tensor whose spatial axes are gone."""
        if self.layout is not None:
            return tuple(math.prod(self.shape[a] for a in comps) for comps in self.layout)
        if len(self.shape) >= 2 + ndim:
            return tuple(self.shape[-ndim:])
        return (1,) * ndim

    def image_axes(self, ndim: int) -> list[int]:
        """The tensor axes that carry (a part of) an image axis, in order."""
        if self.layout is not None:
            return sorted(a for comps in self.layout for a in comps)
        rank = len(self.shape)
        return list(range(rank - ndim, rank)) if rank >= 2 + ndim else []

    def collapsed(self, ndim: int) -> bool:
        """True when the tensor has no spatial extent left (rank too low or all sizes 1)."""
        return all(s == 1 for s in self.spatial(ndim))


@dataclass(frozen=True)
class OpCall:
    """One call of a module or function, as handed to a converter.

    Attributes:
        target: the module instance, the function, or the method name.
        name: normalised op name (``"conv2d"``, ``"add"``, ``"Conv2d"``).
        path: module path of the call (``"layer1.0.conv1"``), or of the module whose ``forward``
            made the functional call.
        args, kwargs: the call's arguments, tensors replaced by :class:`TensorInfo`.
        inputs: the tensor inputs that depend on the model input, in order.
        output: the output tensor.
        ndim: number of spatial axes of the model.
    """

    target: Any
    name: str
    path: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    inputs: tuple[TensorInfo, ...]
    output: TensorInfo
    ndim: int

    def arg(self, index: int, name: str, default: Any = None) -> Any:
        """Argument ``name`` given by keyword or at position ``index`` (0 = the input tensor)."""
        if name in self.kwargs:
            return self.kwargs[name]
        if index < len(self.args):
            return self.args[index]
        return default

    @property
    def in_spatial(self) -> Ints:
        """Spatial size of the first live input."""
        return self.inputs[0].spatial(self.ndim) if self.inputs else (1,) * self.ndim

    @property
    def out_spatial(self) -> Ints:
        """Spatial size of the output."""
        return self.output.spatial(self.ndim)


class Unsupported(Exception):
    """Raised by a converter that cannot model this particular call; the node becomes Opaque."""


ModuleConverter = Callable[[Any, OpCall], Layer]
FunctionConverter = Callable[[OpCall], Layer]

_MODULES: dict[type, ModuleConverter] = {}
_FUNCTIONS_BY_OBJ: dict[Any, FunctionConverter] = {}
_FUNCTIONS_BY_NAME: dict[str, FunctionConverter] = {}


def register_module(cls: type, converter: ModuleConverter) -> None:
    """Map a module class (and its subclasses that keep its ``forward``) to an analytic layer.

    A registered class is a leaf of the trace: its ``forward`` is not traced into.

    Args:
        cls: an ``nn.Module`` subclass.
        converter: ``converter(module, call) -> Layer``; raise :class:`Unsupported` for a call it
            cannot model.

    >>> import torch.nn as nn
    >>> from atrous import Conv, to_graph
    >>> class MyConv(nn.Module):
    ...     def forward(self, x):
    ...         return x[..., 1:-1, 1:-1]
    >>> register_module(MyConv, lambda m, call: Conv(3, ndim=call.ndim))
    >>> to_graph(nn.Sequential(MyConv()), (1, 1, 8, 8))["0"].layer.kernel
    (3, 3)
    """
    if not isinstance(cls, type):
        raise AtrousError(f"register_module needs a module class, got {cls!r}")
    if not callable(converter):
        raise AtrousError(f"converter must be callable, got {converter!r}")
    _MODULES[cls] = converter
    _BY_CLASS.clear()


def register_function(fn: Callable[..., Any] | str, converter: FunctionConverter) -> None:
    """Map a function (or a tensor method name such as ``"mean"``) to an analytic layer.

    A registered plain Python function is also a leaf of the trace (it is not traced into).

    Args:
        fn: the function object, or a method/function name.
        converter: ``converter(call) -> Layer``; raise :class:`Unsupported` when it cannot model
            the call.

    >>> from atrous import Pointwise
    >>> register_function("my_custom_op", lambda call: Pointwise("my_custom_op"))
    """
    if not callable(converter):
        raise AtrousError(f"converter must be callable, got {converter!r}")
    if isinstance(fn, str):
        if not fn:
            raise AtrousError("function name must not be empty")
        _FUNCTIONS_BY_NAME[fn] = converter
    elif callable(fn):
        _FUNCTIONS_BY_OBJ[fn] = converter
    else:
        raise AtrousError(f"register_function needs a function or a name, got {fn!r}")


_NORM_BASES: set[type] = set()
"""Norm classes whose subclasses stay leaves even with their own ``forward`` (timm's
``BatchNormAct2d``): read as pointwise, with a note, instead of tracing every one of them."""


_BY_CLASS: dict[type, tuple[int, ModuleConverter | None]] = {}
""":func:`_module_converter`'s answer per module class, with the registry's size it was
given at (cleared by :func:`register_module`)."""


def _module_converter(module: Any) -> ModuleConverter | None:
    cls = type(module)
    hit = _BY_CLASS.get(cls)
    size = len(_MODULES) + len(_NORM_BASES)
    if hit is not None and hit[0] == size:
        return hit[1]
    conv = _find_module_converter(cls)
    _BY_CLASS[cls] = (size, conv)
    return conv


def _find_module_converter(cls: type) -> ModuleConverter | None:
    mro = cls.__mro__
    for klass in mro:
        conv = _MODULES.get(klass)
        if conv is not None:
            owner = next((k for k in mro if "forward" in vars(k)), klass)
            if issubclass(klass, owner) or owner.__module__.startswith("torch.nn"):
                return conv
            if klass in _NORM_BASES:
                return conv
            return None  # a user subclass with its own forward: trace into it
    return None


_NORM_BY_CLASS: dict[type, tuple[int, str]] = {}


def _norm_subclass(module: Any) -> str:
    """The norm base of a norm subclass with its own forward ('' for anything else)."""
    cls = type(module)
    hit = _NORM_BY_CLASS.get(cls)
    if hit is not None and hit[0] == len(_NORM_BASES):
        return hit[1]
    found = _find_norm_base(cls)
    _NORM_BY_CLASS[cls] = (len(_NORM_BASES), found)
    return found


def _find_norm_base(cls: type) -> str:
    mro = cls.__mro__
    owner = next((k for k in mro if "forward" in vars(k)), None)
    if owner is None or owner.__module__.startswith(("torch.nn", "atrous.")):
        return ""  # atrous' own PooledBatchNorm2d is a BatchNorm2d in eval: no note
    if not any(k in _NORM_BASES for k in mro):
        return ""
    return next(k.__name__ for k in mro if k.__module__.startswith("torch.nn"))


_DUNDER = {"radd": "add", "iadd": "add", "rsub": "sub", "isub": "sub", "rmul": "mul",
           "imul": "mul", "rtruediv": "truediv", "itruediv": "truediv", "div": "truediv",
           "concat": "cat", "concatenate": "cat"}


_FN_NAMES: dict[Any, str] = {}
_NAMED_TYPES = frozenset((str, types.FunctionType, types.BuiltinFunctionType))


def _fn_name(fn: Any) -> str:
    """The normalised op name of a call target (a function, method name or module path),
    remembered per name or plain function (never per object a model holds)."""
    if type(fn) not in _NAMED_TYPES:
        return _fn_name_of(fn)
    got = _FN_NAMES.get(fn)
    if got is None:
        if len(_FN_NAMES) > 50_000:  # module paths of many models: start again
            _FN_NAMES.clear()
        got = _FN_NAMES[fn] = _fn_name_of(fn)
    return got


def _fn_name_of(fn: Any) -> str:
    name = fn if isinstance(fn, str) else getattr(fn, "__name__", None) or type(fn).__name__
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
    if name.endswith("_") and not name.startswith("_") and name not in ("max_", "min_"):
        name = name[:-1]  # in-place variants: relu_ -> relu
    return _DUNDER.get(name, name)


def _function_converter(fn: Any) -> FunctionConverter | None:
    try:
        conv = _FUNCTIONS_BY_OBJ.get(fn)
    except TypeError:
        conv = None
    if conv is not None:
        return conv
    return _FUNCTIONS_BY_NAME.get(_fn_name(fn))


