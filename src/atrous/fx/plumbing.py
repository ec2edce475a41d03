"""Torch plumbing for the tracers: input checks, eval mode, quiet loggers, dtypes, outputs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import AtrousError
from .registry import _module_converter


# -- torch plumbing ----------------------------------------------------------------------------
def _check_input_size(input_size: Any) -> tuple[int, ...]:
    if input_size is None:
        raise AtrousError("analysing a torch model needs input_size=(N, C, *spatial), e.g. "
                          "(1, 3, 224, 224)")
    if isinstance(input_size, (str, bytes)) or not isinstance(input_size, Sequence):
        raise AtrousError(f"input_size must be a tuple like (1, 3, 224, 224), got {input_size!r}")
    size = tuple(input_size)
    if len(size) not in (3, 4, 5):
        raise AtrousError(
            f"input_size must be (N, C, *spatial) with 1 to 3 spatial axes, got {size}")
    for v in size:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise AtrousError(f"every input_size entry must be an integer >= 1, got {size}")
    return size


def _check_input_sizes(input_size: Any) -> list[tuple[int, ...]]:
    """One shape, or a list of shapes for a model taking several tensors.

    The first shape sets the spatial axes; every other input has the same spatial size (an
    aligned image: mask, depth) or fewer axes (a side input such as a class vector, whose values
    reach every pixel but move none).
    """
    if (isinstance(input_size, (list, tuple)) and input_size
            and all(isinstance(s, (list, tuple)) for s in input_size)):
        shapes = [_check_input_size(input_size[0])]
        for s in input_size[1:]:
            size = tuple(s)
            if not size or any(isinstance(v, bool) or not isinstance(v, int) or v < 1
                               for v in size):
                raise AtrousError(f"every input_size entry must be an integer >= 1, got {size}")
            shapes.append(size)
    else:
        return [_check_input_size(input_size)]
    first = shapes[0]
    nd = len(first) - 2
    for i, s in enumerate(shapes[1:], 1):
        if len(s) >= 2 + nd and s[-nd:] != first[-nd:]:
            raise AtrousError(
                f"input #{i} has shape {s}: every image input must have the spatial size "
                f"{first[-nd:]} of the first input {first}")
        if len(s) > 2 + nd:
            raise AtrousError(f"input #{i} has shape {s}: more axes than the first input {first}")
    return shapes


def _spatial_inputs(shapes: Sequence[tuple[int, ...]]) -> list[bool]:
    """Which inputs are images on the first input's grid (the others are side inputs)."""
    nd = len(shapes[0]) - 2
    return [len(s) == 2 + nd for s in shapes]


class _Eval:
    """Put a model in eval mode for the trace and restore every module's flag afterwards."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.flags: list[tuple[Any, bool]] = []

    def __enter__(self) -> None:
        self.flags = [(m, m.training) for m in self.model.modules()]
        if any(flag for _, flag in self.flags):
            self.model.eval()

    def __exit__(self, *exc: Any) -> None:
        for m, flag in self.flags:
            if m.training != flag:
                m.training = flag


_TORCH_LOGGERS = ("torch._subclasses.fake_tensor", "torch._subclasses", "torch.fx",
                  "torch.fx.experimental.symbolic_shapes", "torch._dispatch", "torch._refs",
                  "torch._prims_common")
"""Torch loggers that report (with a full traceback each) what atrous handles itself: an op
whose fake (meta) kernel fails, which atrous answers with the fallback or a one-line error."""


class _QuietTorch:
    """Silence torch's own error logging while atrous traces; restore the levels afterwards."""

    def __init__(self) -> None:
        self.levels: list[tuple[Any, int]] = []

    def __enter__(self) -> None:
        import logging

        self.levels = []
        for name in _TORCH_LOGGERS:
            log = logging.getLogger(name)
            self.levels.append((log, log.level))
        _set_levels([(log, logging.CRITICAL + 1) for log, _ in self.levels])

    def __exit__(self, *exc: Any) -> None:
        _set_levels(self.levels)


def _set_levels(levels: list[tuple[Any, int]]) -> None:
    """``log.setLevel(level)`` for each pair, with logging's cache of every logger's enabled
    levels cleared once (by the last ``setLevel``), not once per logger."""
    for log, level in levels[:-1]:
        log.level = level
    for log, level in levels[-1:]:
        log.setLevel(level)


def _dtype(model: Any) -> Any:
    """The model's floating dtype (its first floating parameter or buffer; float32 if none)."""
    import itertools

    import torch

    for t in itertools.chain(model.parameters(), model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.float32


def _fake_mode() -> Any:
    from torch._subclasses.fake_tensor import FakeTensorMode

    return FakeTensorMode(allow_non_fake_inputs=True)


def _flatten_outputs(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten_outputs(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _flatten_outputs(v, f"{prefix}.{i}" if prefix else str(i))
    else:
        yield prefix, value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def _leaf(module: Any, qualname: str) -> bool:
    import torch.nn as nn

    if _module_converter(module) is not None:
        return True
    if isinstance(module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        return False
    mod = type(module).__module__
    return mod.startswith("torch.nn") or mod.startswith("torch.ao.nn")


