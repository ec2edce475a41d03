"""Public functions that differ only in their first argument, made from one template (private).

``dilated_conv1d/2d/3d``, ``resnet18 .. resnet101`` and the DeepLab builders share a signature
and differ in one fixed value (the number of spatial axes, the block and stage depths, the
backbone depth). :func:`variant` writes each once: the result has the template's signature
without its first (positional-only) parameter, for mypy (through the ``ParamSpec``) and for
``help()``/``inspect.signature`` (through ``__signature__``), its own name and docstring, and
the template module's globals, so that doctest collects its examples as the module's own.

>>> def _power(k: int, /, x: int, *, offset: int = 0) -> int:
...     return x**k + offset
>>> square = variant(_power, 2, "square", "The square of ``x``, plus ``offset``.")
>>> square(3, offset=1), square.__name__
(10, 'square')
>>> import inspect
>>> str(inspect.signature(square))
"(x: 'int', *, offset: 'int' = 0) -> 'int'"
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar, cast

__all__ = ["variant"]

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F")


def variant(
    template: Callable[Concatenate[F, P], R],
    first: F,
    name: str,
    doc: str,
    module: str | None = None,
) -> Callable[P, R]:
    """``template`` with its first argument fixed to ``first``, named ``name``, documented
    ``doc``, belonging to ``module`` (default: the template's; see the module docstring)."""

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        return template(first, *args, **kwargs)

    # the same code and closure under the template module's globals: doctest's test for "defined
    # in this module" is ``module.__dict__ is function.__globals__``
    home = cast(types.FunctionType, template)
    module = home.__module__ if module is None else module
    namespace = sys.modules[module].__dict__
    fn = types.FunctionType(call.__code__, namespace, name, None, call.__closure__)
    signature = inspect.signature(template)
    fn.__dict__["__signature__"] = signature.replace(
        parameters=list(signature.parameters.values())[1:]
    )
    fn.__qualname__ = name
    fn.__module__ = module
    fn.__doc__ = doc
    return cast("Callable[P, R]", fn)
