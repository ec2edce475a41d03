"""Receptive field, effective stride and centre of every node of a Graph, exactly.

    >>> rf = receptive_field("3x3 d1, 3x3 d2, 3x3 d5")
    >>> rf.size, rf.stride, rf.start
    ((17, 17), (Fraction(1, 1), Fraction(1, 1)), (Fraction(0, 1), Fraction(0, 1)))
    >>> receptive_field("3 s2, 3 s2").size            # 1 + 2*1 + 2*2
    (7,)
    >>> receptive_field("3 s2, 3 s2").stride
    (Fraction(4, 1),)

Model
-----
Each axis is handled on its own (every layer atrous models is separable per axis). Input pixel
``x`` has its centre at coordinate ``x``. For a node, the *support* of its unit ``u`` is the set of
input pixels that reach it through some path (for a network with positive weights: where the
impulse response is non-zero), and its *box* is the hull ``[lo(u), hi(u)]`` of that set. The
boxes are computed exactly, by following which units of its input every unit reads:

- conv / pooling: unit ``o`` reads ``o*s - pad_left + t*d`` for ``t < k`` (dilation enters both
  the size and the centre);
- transposed conv: unit ``o`` reads every ``i`` with ``i*s - p + t*d = o`` (it can be fewer
  than ``k/s`` units, or none);
- upsampling: nearest reads ``o // s``; (bi/tri)linear reads the one or two neighbours of
  ``(o + 1/2)/s - 1/2`` with a non-zero weight (bicubic: four), PyTorch's ``align_corners=False``
  rule; ``align_corners=True`` needs the input size;
- merges (add, concat, mul): the union of the inputs' supports: the largest path wins, as in
  Araujo et al., "Computing Receptive Fields of CNNs" (Distill 2019). Inputs whose centres
  differ are *misaligned*: the union is still exact, and ``notes`` says so. Inputs whose strides
  differ give a field that changes from unit to unit: ``partial``, with a diagnostic.
- global pooling, adaptive pooling to 1, and dense ops see the whole input (``is_global``).

With an integer effective stride every unit has the same box shape, ``size = hi - lo + 1`` and
unit ``u`` is centred at ``start + u*stride``. After upsampling or a transposed conv the stride is
a fraction ``J/P``: the boxes repeat with period ``P`` units (shifted by ``J`` pixels), ``size`` is
the largest box of a period and ``start`` their mean centre; :meth:`ReceptiveField.box` gives the
exact box of any unit. Boxes are those of interior units (a unit near the border sees the part of
its box that lies inside the input). Sizes are never negative.

An operation atrous does not understand (:class:`~atrous.layers.Opaque`), or one whose geometry
depends on an input size that was not given (adaptive pooling to more than one cell, a
:class:`~atrous.layers.Resize`, ``align_corners=True``), makes the result ``partial``: it is
computed as if that node were the identity and ``diagnostics`` names the node.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ._types import Ints, as_size
from .errors import AtrousError, TooLargeError
from .graph import Graph, as_graph
from .layers import (
    AdaptivePool,
    Conv,
    ConvTranspose,
    Dense,
    GlobalPool,
    Input,
    Layer,
    Merge,
    Opaque,
    Pad,
    Pointwise,
    Pool,
    Resize,
    Slice,
    Upsample,
)

__all__ = [
    "AxisRF",
    "ReceptiveField",
    "frac_json",
    "node_sizes",
    "receptive_field",
    "receptive_fields",
    "spatial_input_size",
]

MAX_PERIOD = 1 << 16
"""Largest number of distinct box phases tracked per axis."""

Box = tuple[int, int] | None


def frac_json(value: Fraction) -> int | str:
    """A Fraction as JSON: an int when whole, else ``"p/q"``.

    >>> frac_json(Fraction(3, 1)), frac_json(Fraction(-1, 4))
    (3, '-1/4')
    """
    return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


@dataclass(frozen=True)
class AxisRF:
    """The receptive field of one node along one axis.

    Attributes:
        size: extent in input pixels of the largest unit box (for a global axis: the input
            extent when known, else 0).
        stride: effective stride (jump) in input pixels between neighbouring units.
        start: input coordinate of the centre of unit 0 (the mean over one period when the
            stride is fractional).
        is_global: every unit sees the whole input along this axis.
        period: number of units after which the boxes repeat (1 for integer strides).
        shift: input pixels the boxes move per period (``stride = shift / period``).
        boxes: ``(lo, hi)`` of units ``0..period-1`` (None for a unit that reads nothing).
    """

    size: int
    stride: Fraction
    start: Fraction
    is_global: bool = False
    period: int = 1
    shift: int = 1
    boxes: tuple[Box, ...] = ((0, 0),)

    def box(self, unit: int) -> Box:
        """Exact ``(lo, hi)`` input-pixel hull of ``unit`` (None if it reads nothing)."""
        if self.is_global:
            raise AtrousError("a global receptive field has no finite box")
        m, q = divmod(unit, self.period)
        b = self.boxes[q]
        return None if b is None else (b[0] + m * self.shift, b[1] + m * self.shift)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (fractions as ``"p/q"`` strings)."""
        out: dict[str, Any] = {
            "size": self.size,
            "stride": frac_json(self.stride),
            "start": frac_json(self.start),
            "is_global": self.is_global,
        }
        if not self.is_global and self.period > 1:
            out["period"] = self.period
            out["shift"] = self.shift
            out["boxes"] = [list(b) if b is not None else None for b in self.boxes]
        return out


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of one node, per axis, relative to the graph input.

    ``size``, ``stride`` and ``start`` are per-axis tuples; ``is_global`` is True when any axis
    is global; ``partial`` with ``diagnostics`` says what could not be modelled exactly;
    ``notes`` are exact findings worth knowing (merges of paths whose centres differ).
    """

    node: str
    axes: tuple[AxisRF, ...]
    partial: bool = False
    diagnostics: list[str] = field(default_factory=list)
    input_size: Ints | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ndim(self) -> int:
        return len(self.axes)

    @property
    def size(self) -> Ints:
        return tuple(a.size for a in self.axes)

    @property
    def stride(self) -> tuple[Fraction, ...]:
        return tuple(a.stride for a in self.axes)

    @property
    def start(self) -> tuple[Fraction, ...]:
        return tuple(a.start for a in self.axes)

    @property
    def is_global(self) -> bool:
        return any(a.is_global for a in self.axes)

    @property
    def global_axes(self) -> tuple[bool, ...]:
        return tuple(a.is_global for a in self.axes)

    def box(self, unit: int | Sequence[int] = 0) -> tuple[Box, ...]:
        """Per-axis exact ``(lo, hi)`` hull of a unit (an int is the same index on every axis).

        >>> receptive_field("3 d2, 3 s2").box(5)
        ((7, 13),)
        """
        units = (unit,) * self.ndim if isinstance(unit, int) else tuple(unit)
        if len(units) != self.ndim:
            raise AtrousError(f"unit index needs {self.ndim} entries, got {unit!r}")
        return tuple(a.box(u) for a, u in zip(self.axes, units))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (fractions as ``"p/q"`` strings, whole numbers as ints)."""
        return {
            "node": self.node,
            "size": list(self.size),
            "stride": [frac_json(s) for s in self.stride],
            "start": [frac_json(s) for s in self.start],
            "is_global": self.is_global,
            "global_axes": list(self.global_axes),
            "partial": self.partial,
            "diagnostics": list(self.diagnostics),
            "notes": list(self.notes),
            "axes": [a.to_dict() for a in self.axes],
        }

    def __str__(self) -> str:
        def fmt(values: Sequence[Any]) -> str:
            return "x".join(str(v) for v in values)

        if self.is_global and all(self.global_axes):
            text = "global"
        else:
            text = f"RF {fmt(self.size)}, stride {fmt(self.stride)}, start {fmt(self.start)}"
        return text + (" (partial)" if self.partial else "")


# -- per-axis state ---------------------------------------------------------------------------
@dataclass
class _Ax:
    period: int = 1
    shift: int = 1
    boxes: list[Box] = field(default_factory=lambda: [(0, 0)])
    is_global: bool = False

    def box(self, i: int) -> Box:
        m, q = divmod(i, self.period)
        b = self.boxes[q]
        return None if b is None else (b[0] + m * self.shift, b[1] + m * self.shift)

    @property
    def jump(self) -> Fraction:
        return Fraction(self.shift, self.period)


Sampler = Callable[[int], Sequence[int]]


def _reduce(period: int, shift: int, boxes: list[Box]) -> _Ax:
    for p in range(1, period):
        if period % p or (shift * p) % period:
            continue
        step = shift * p // period
        if all(
            (b is None and c is None)
            or (b is not None and c is not None and c == (b[0] + step, b[1] + step))
            for b, c in zip(boxes[: period - p], boxes[p:])
        ):
            return _Ax(p, step, boxes[:p])
    return _Ax(period, shift, boxes)


def _compose(prev: _Ax, q: int, t: int, sample: Sampler, node: str) -> _Ax:
    """Unit ``o`` reads ``sample(o)`` of ``prev``, and ``sample(o + q) = sample(o) + t``."""
    if prev.is_global:
        return prev
    a = prev.period // math.gcd(t, prev.period) if t else 1
    period = q * a
    if period > MAX_PERIOD:
        raise TooLargeError(
            f"at node {node!r}: the receptive-field boxes repeat only every {period} units "
            f"(more than {MAX_PERIOD})"
        )
    shift = (a * t // prev.period) * prev.shift
    boxes: list[Box] = []
    for o in range(period):
        lo = hi = None
        for i in sample(o):
            b = prev.box(i)
            if b is None:
                continue
            lo = b[0] if lo is None else min(lo, b[0])
            hi = b[1] if hi is None else max(hi, b[1])
        boxes.append(None if lo is None or hi is None else (lo, hi))
    return _reduce(period, shift, boxes)


def _interp_sampler(s: int, mode: str) -> Sampler:
    taps = (-1, 0, 1, 2) if mode == "bicubic" else (0, 1)

    def sample(o: int) -> list[int]:
        src = Fraction(2 * o + 1 - s, 2 * s)
        i0 = math.floor(src)
        return [i0] if src == i0 else [i0 + t for t in taps]

    return sample


def _resize_sampler(layer: Resize, axis: int, n: int) -> Sampler:
    """Interior reads of a resize of ``n`` pixels (no border clamping)."""
    return lambda o: layer.reads(axis, n, o, clamp=False)


def _aligned_sampler(n: int, s: int, mode: str) -> Sampler:
    taps = (-1, 0, 1, 2) if mode == "bicubic" else (0, 1)
    big = n * s

    def sample(o: int) -> list[int]:
        src = Fraction(o * (n - 1), big - 1)
        i0 = math.floor(src)
        return [i0] if src == i0 else [i0 + t for t in taps]

    return sample


def _adaptive_sampler(n: int, t: int) -> Sampler:
    def sample(o: int) -> list[int]:
        return list(range((o * n) // t, -((-(o + 1) * n) // t)))

    return sample


def _layer_axis(
    layer: Layer, prev: _Ax, axis: int, in_size: int | None, node: str, notes: list[str]
) -> _Ax:
    """Apply one single-input layer along one axis."""
    if isinstance(layer, (Conv, Pool)):
        k, s, d = layer.kernel[axis], layer.stride[axis], layer.dilation[axis]
        pl = layer.padding[axis][0] if isinstance(layer, Conv) else layer.padding[axis]
        return _compose(prev, 1, s, lambda o: [o * s - pl + j * d for j in range(k)], node)
    if isinstance(layer, ConvTranspose):
        k, s, d = layer.kernel[axis], layer.stride[axis], layer.dilation[axis]
        p = layer.padding[axis]

        def sample_t(o: int) -> list[int]:
            return [(o + p - j * d) // s for j in range(k) if (o + p - j * d) % s == 0]

        return _compose(prev, s, 1, sample_t, node)
    if isinstance(layer, Upsample):
        s = layer.scale[axis]
        if s == 1:
            return prev
        if layer.mode == "nearest":
            return _compose(prev, s, 1, lambda o: [o // s], node)
        if layer.align_corners:
            if in_size is not None and in_size > 1:
                big = in_size * s
                return _compose(prev, big - 1, in_size - 1, _aligned_sampler(
                    in_size, s, layer.mode), node)
            if in_size is None:
                notes.append(
                    f"{node}: upsample with align_corners=True samples non-uniformly; without "
                    "an input size it is modelled as align_corners=False"
                )
        return _compose(prev, s, 1, _interp_sampler(s, layer.mode), node)
    if isinstance(layer, Resize):
        m = layer.size[axis]
        if in_size is None:
            notes.append(
                f"{node}: resizing to {m} reads pixels that depend on the input size, which was "
                "not given; modelled as the identity (a lower bound)"
            )
            return prev
        if in_size == m:
            return prev
        if in_size == 1 or (layer.align_corners and m == 1):
            return _compose(prev, 1, 0, lambda o: [0], node)  # every output reads pixel 0
        sample = _resize_sampler(layer, axis, in_size)
        if layer.mode.startswith("nearest"):
            # PyTorch's float32 index is not exactly periodic: take every output as one period
            return _compose(prev, m, in_size, sample, node)
        # the exact reads repeat every q outputs, shifted by t inputs
        n, m = (in_size - 1, m - 1) if layer.align_corners else (in_size, m)
        g = math.gcd(n, m)
        return _compose(prev, m // g, n // g, sample, node)
    if isinstance(layer, Pad):
        lo = layer.padding[axis][0]
        return _compose(prev, 1, 1, lambda o: [o - lo], node)
    if isinstance(layer, Slice):
        a, st = layer.start[axis], layer.step[axis]
        return _compose(prev, 1, st, lambda o: [a + o * st], node)
    if isinstance(layer, AdaptivePool):
        t = layer.target[axis]
        if t == 1:
            return _Ax(is_global=True)
        if in_size is None:
            notes.append(
                f"{node}: adaptive pooling to {t} cells has windows that depend on the input "
                "size, which was not given; modelled as the identity (a lower bound)"
            )
            return prev
        if in_size % t == 0:
            w = in_size // t
            return _compose(prev, 1, w, lambda o: [o * w + j for j in range(w)], node)
        return _compose(prev, t, in_size, _adaptive_sampler(in_size, t), node)
    raise AtrousError(f"no receptive-field model for {type(layer).__name__}")  # pragma: no cover


def _merge_axes(
    ins: list[_Ax], name: str, axis: int, notes: list[str], partial: list[bool],
    findings: list[str],
) -> _Ax:
    if any(a.is_global for a in ins):
        return _Ax(is_global=True)
    jumps = {a.jump for a in ins}
    if len(jumps) > 1:
        notes.append(
            f"{name}: merged paths have different strides "
            f"{', '.join(str(j) for j in sorted(jumps))} on axis {axis}; the receptive field "
            "differs from unit to unit, the path with the largest box is shown"
        )
        partial[0] = True
        return max(ins, key=lambda a: _size(a))
    period = math.lcm(*(a.period for a in ins))
    jump = ins[0].jump
    shift = int(jump * period)
    boxes: list[Box] = []
    for o in range(period):
        got = [b for b in (a.box(o) for a in ins) if b is not None]
        boxes.append((min(b[0] for b in got), max(b[1] for b in got)) if got else None)
    starts = {_start(a) for a in ins}
    if len(starts) > 1:
        findings.append(
            f"{name}: merged paths are misaligned on axis {axis}: their centres differ "
            f"({', '.join(str(s) for s in sorted(starts))}); the union of their boxes is shown"
        )
    return _reduce(period, shift, boxes)


def _size(a: _Ax) -> int:
    return max((b[1] - b[0] + 1 for b in a.boxes if b is not None), default=0)


def _start(a: _Ax) -> Fraction:
    centres = [
        Fraction(b[0] + b[1], 2) - q * a.jump for q, b in enumerate(a.boxes) if b is not None
    ]
    return sum(centres, Fraction(0)) / len(centres) if centres else Fraction(0)


# -- sizes ------------------------------------------------------------------------------------
def spatial_input_size(graph: Graph, input_size: Sequence[int] | None) -> Ints | None:
    """The spatial part of ``input_size``: itself, or its last ``ndim`` entries for a full
    ``(N, C, *spatial)`` tensor shape.

    >>> spatial_input_size(as_graph("3x3"), (1, 3, 64, 48))
    (64, 48)
    """
    if input_size is None:
        return None
    size = as_size(input_size, "input_size", minimum=-(2**63))  # type and form; range below
    if len(size) == 1 and not isinstance(input_size, Sequence):
        size = size * graph.ndim
    if len(size) == graph.ndim + 2:
        size = size[2:]
    if len(size) != graph.ndim or any(
        isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in size
    ):
        raise AtrousError(
            f"input size must be {graph.ndim} spatial sizes >= 1 (or a full (N, C, ...) shape), "
            f"got {input_size!r}"
        )
    return size


def node_sizes(graph: Graph, spatial: Ints | None) -> dict[str, Ints | None]:
    """Spatial output size of every node (None where unknown: no input size, an opaque op).

    Uses a node's ``meta["shape"]`` (from the torch front end) where the layer cannot say.
    Merges broadcast size-1 inputs, as :meth:`Graph.shapes` does.
    """
    out: dict[str, Ints | None] = {}
    for node in graph.topological():
        meta_shape = node.meta.get("shape") if node.meta else None
        meta_size = (
            tuple(int(v) for v in meta_shape[-graph.ndim :])
            if isinstance(meta_shape, (tuple, list)) and len(meta_shape) >= graph.ndim
            else None
        )
        if isinstance(node.layer, Input):
            out[node.name] = spatial
            continue
        ins = [out[i] for i in node.inputs]
        size: Ints | None = None
        if all(s is not None for s in ins):
            known = [s for s in ins if s is not None]
            if isinstance(node.layer, Merge):
                size = tuple(max(v) for v in zip(*known))
            else:
                try:
                    size = node.layer.output_size(known[0])
                except AtrousError:
                    size = None
        out[node.name] = size if size is not None else meta_size
    return out


# -- the analysis -----------------------------------------------------------------------------
@dataclass
class _State:
    axes: list[_Ax]
    notes: list[str]
    partial: bool
    findings: list[str]


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _analyse(graph: Graph, spatial: Ints | None) -> dict[str, ReceptiveField]:
    sizes = node_sizes(graph, spatial)
    states: dict[str, _State] = {}
    for node in graph.topological():
        layer = node.layer
        if isinstance(layer, Input):
            states[node.name] = _State([_Ax() for _ in range(graph.ndim)], [], False, [])
            continue
        ins = [states[i] for i in node.inputs]
        notes = _dedupe([n for s in ins for n in s.notes])
        partial = any(s.partial for s in ins)
        findings = _dedupe([n for s in ins for n in s.findings])
        if isinstance(layer, Merge):
            flag = [False]
            new_notes: list[str] = []
            new_findings: list[str] = []
            axes = [
                _merge_axes([s.axes[ax] for s in ins], node.name, ax, new_notes, flag,
                            new_findings)
                for ax in range(graph.ndim)
            ]
            partial = partial or flag[0]
            notes = _dedupe(notes + new_notes)
            findings = _dedupe(findings + new_findings)
        elif isinstance(layer, (GlobalPool, Dense)):
            axes = [_Ax(is_global=True) for _ in range(graph.ndim)]
        elif isinstance(layer, Pointwise):
            axes = list(ins[0].axes)
        elif isinstance(layer, Opaque):
            axes = list(ins[0].axes)
            partial = True
            notes = _dedupe(
                [*notes, f"{node.name}: {layer.op!r} is opaque ({layer.reason}); the receptive "
                 "field after it is computed as if it were the identity (a lower bound)"]
            )
        else:
            in_size = sizes[node.inputs[0]]
            new_notes = []
            axes = [
                _layer_axis(
                    layer, ins[0].axes[ax], ax, None if in_size is None else in_size[ax],
                    node.name, new_notes,
                )
                for ax in range(graph.ndim)
            ]
            if new_notes:
                partial = True
                notes = _dedupe(notes + new_notes)
        states[node.name] = _State(axes, notes, partial, findings)
    return {name: _freeze(name, st, spatial) for name, st in states.items()}


def _freeze(name: str, st: _State, spatial: Ints | None) -> ReceptiveField:
    axes = []
    for ax, a in enumerate(st.axes):
        if a.is_global:
            n = spatial[ax] if spatial is not None else None
            axes.append(
                AxisRF(
                    size=n if n is not None else 0, stride=Fraction(0),
                    start=Fraction(n - 1, 2) if n is not None else Fraction(0),
                    is_global=True, period=1, shift=0, boxes=((0, n - 1) if n else None,),
                )
            )
        else:
            axes.append(
                AxisRF(
                    size=_size(a), stride=a.jump, start=_start(a), is_global=False,
                    period=a.period, shift=a.shift, boxes=tuple(a.boxes),
                )
            )
    return ReceptiveField(name, tuple(axes), st.partial, list(st.notes), spatial,
                          list(st.findings))


def receptive_fields(
    target: Any, input_size: Sequence[int] | None = None
) -> dict[str, ReceptiveField]:
    """The receptive field of every node (the input included), relative to the graph input.

    Args:
        target: anything :func:`atrous.as_graph` accepts (Graph, spec string, layers, or an
            ``nn.Module`` traced with ``input_size``).
        input_size: spatial input size (or a full ``(N, C, *spatial)`` shape); only needed for
            layers whose geometry depends on it, and to give global fields a size.

    >>> rfs = receptive_fields("3x3 d2, res(3x3, 3x3)")
    >>> {name: rf.size[0] for name, rf in rfs.items()}
    {'input': 1, 'conv0': 5, 'res1.conv0': 7, 'res1.conv1': 9, 'res1.add': 9}
    """
    graph = as_graph(target, input_size)
    return _analyse(graph, spatial_input_size(graph, input_size))


def receptive_field(
    target: Any, input_size: Sequence[int] | None = None, *, output: str | None = None
) -> ReceptiveField:
    """The receptive field of a network's output: size, effective stride, centre per axis.

    Args:
        target: a Graph, a spec string, a layer or layers, or an ``nn.Module`` (traced by
            :mod:`atrous.fx`; then ``input_size`` is the full ``(N, C, *spatial)`` shape).
        input_size: the input size, needed only by size-dependent layers (adaptive pooling,
            ``align_corners=True``) and to give a global field its extent.
        output: which output node, for a graph with several outputs.

    Returns:
        A :class:`ReceptiveField`; see the module docstring for the exact model.

    Raises:
        AtrousError: for a graph with several outputs and no ``output=``, or an unknown node.

    >>> rf = receptive_field("7x7 s2 p3, maxpool 3x3 s2 p1, res(3x3, 3x3)")
    >>> rf.size, rf.stride, rf.start
    ((27, 27), (Fraction(4, 1), Fraction(4, 1)), (Fraction(0, 1), Fraction(0, 1)))
    >>> receptive_field("3 s2, tconv 4 s2 p1").size   # fractional steps, no negative size
    (5,)
    >>> receptive_field("3x3, gpool", input_size=(32, 32)).is_global
    True
    """
    graph = as_graph(target, input_size)
    if output is None:
        outs = graph.outputs
        if len(outs) != 1:
            raise AtrousError(
                f"the graph has {len(outs)} outputs {list(outs)}: pass output= one of them, or "
                "use receptive_fields() for all"
            )
        output = outs[0]
    if output not in graph:
        raise AtrousError(f"no node named {output!r} in the graph")
    rfs = _analyse(graph, spatial_input_size(graph, input_size))
    return rfs[output]
