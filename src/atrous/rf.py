"""Receptive field, effective stride and centre of every node of a Graph, exactly.

    >>> rf = receptive_field("3x3 d1, 3x3 d2, 3x3 d5")
    >>> rf.size, rf.stride, rf.start
    ((17, 17), (1, 1), (0, 0))
    >>> receptive_field("3 s2, 3 s2").size            # 1 + 2*1 + 2*2
    (7,)
    >>> receptive_field("3 s2, 3 s2").stride
    (4,)
    >>> receptive_field("3 s2, tconv 4 s4").stride    # a Ratio: a Fraction that reads well
    (1/2,)

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ._types import Ints, as_size
from .errors import AtrousError, TooLargeError
from .geometry import Identity, Taps, Unmodelled, Whole
from .graph import Graph, as_graph
from .layers import Input, Layer, Merge

__all__ = [
    "AxisRF",
    "Ratio",
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


class Ratio(Fraction):
    """A :class:`~fractions.Fraction` that shows itself as it reads: ``8``, ``1/2``.

    Strides and centres of receptive fields are exact fractions; this subclass only changes
    ``repr`` (so a tuple of them prints as ``(8, 8)`` rather than ``(Fraction(8, 1), ...)``).
    It compares, hashes and computes as a Fraction (arithmetic returns plain Fractions).

    >>> Ratio(8), Ratio(-1, 4)
    (8, -1/4)
    >>> Ratio(8) == 8 and Ratio(1, 2) * 2 == 1
    True
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


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

    @property
    def empty(self) -> bool:
        """True when no unit reads any input pixel along this axis (the field is empty)."""
        return not self.is_global and all(b is None for b in self.boxes)

    @property
    def effective_padding(self) -> int | None:
        """The left padding of the equivalent single convolution: unit 0's box starts at
        ``-effective_padding`` (Google's receptive-field table reports it); None for a global
        axis or when unit 0 reads nothing."""
        if self.is_global or self.boxes[0] is None:
            return None
        return -self.boxes[0][0]

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
        if self.empty:
            out["empty"] = True
        if not self.is_global and self.period > 1:
            out["period"] = self.period
            out["shift"] = self.shift
            out["boxes"] = [list(b) if b is not None else None for b in self.boxes]
        return out


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of one node, per axis, relative to the graph input.

    ``size``, ``stride`` and ``start`` are per-axis tuples; ``is_global`` is True when any axis
    is global; ``empty`` is True when the unit reads no input pixel at all; ``partial`` with
    ``diagnostics`` says what could not be modelled exactly; ``notes`` are exact findings worth
    knowing (merges of paths whose centres differ).

    >>> rf = receptive_field("tconv 1 s2 p1, 1 s2")   # odd positions only, then even ones
    >>> rf.empty, rf.size
    (True, (0,))
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

    @property
    def empty(self) -> bool:
        """True when the units read no input pixel (an empty receptive field)."""
        return any(a.empty for a in self.axes)

    @property
    def effective_padding(self) -> tuple[int | None, ...]:
        """Per axis, the left padding of the equivalent single convolution: unit 0's box
        starts at ``-padding`` (None on a global axis or when unit 0 reads nothing), as in
        Google's receptive-field table.

        >>> receptive_field("7x7 s2 p3, maxpool 3x3 s2 p1, res(3x3, 3x3)").effective_padding
        (13, 13)
        """
        return tuple(a.effective_padding for a in self.axes)

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
        elif self.empty:
            text = "RF empty (the unit reads no input pixel)"
        else:
            text = f"RF {fmt(self.size)}, stride {fmt(self.stride)}, start {fmt(self.start)}"
        return text + (" (partial)" if self.partial else "")


# -- per-axis state ---------------------------------------------------------------------------
class _Ax:
    """One node's boxes along one axis (shared, never changed, once made)."""

    __slots__ = ("boxes", "is_global", "period", "shift")

    def __init__(self, period: int = 1, shift: int = 1, boxes: list[Box] | None = None,
                 is_global: bool = False) -> None:
        self.period, self.shift, self.is_global = period, shift, is_global
        self.boxes: list[Box] = [(0, 0)] if boxes is None else boxes

    def __repr__(self) -> str:
        return (f"_Ax(period={self.period}, shift={self.shift}, boxes={self.boxes}, "
                f"is_global={self.is_global})")

    def box(self, i: int) -> Box:
        m, q = divmod(i, self.period)
        b = self.boxes[q]
        return None if b is None else (b[0] + m * self.shift, b[1] + m * self.shift)

    @property
    def jump(self) -> Fraction:
        return Fraction(self.shift, self.period)


Sampler = Callable[[int], Sequence[int]]


def _ends(reads: Sequence[int], period: int) -> Sequence[int]:
    """The reads that can hold the hull: a long arithmetic run of reads meets every box phase
    in its first ``period`` entries (the leftmost boxes) and its last ``period`` entries (the
    rightmost), so a kernel of 10**8 taps costs ``2 * period`` box look-ups, not 10**8."""
    if isinstance(reads, range) and len(reads) > 2 * period:
        return [*reads[:period], *reads[-period:]]
    return reads


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
        for i in _ends(sample(o), prev.period):
            b = prev.box(i)
            if b is None:
                continue
            lo = b[0] if lo is None else min(lo, b[0])
            hi = b[1] if hi is None else max(hi, b[1])
        boxes.append(None if lo is None or hi is None else (lo, hi))
    return _reduce(period, shift, boxes)


def _layer_axis(
    layer: Layer, prev: _Ax, axis: int, in_size: int | None, node: str, notes: list[str]
) -> _Ax:
    """Apply one single-input layer along one axis: its geometry, composed with ``prev``."""
    geom = layer.axis_geometry(axis, in_size)
    if isinstance(geom, Unmodelled):
        notes.append(f"{node}: {geom.note}")
        if geom.fallback is None:
            return prev
        geom = geom.fallback
    if isinstance(geom, Whole):
        return _Ax(is_global=True)
    if isinstance(geom, Identity):
        return prev
    if prev.is_global:
        return prev  # as _compose
    if type(geom) is Taps and prev.period == 1 and geom.kernel >= 1 and geom.dilation >= 1:
        # _compose at period 1 (every unit one box): unit 0 reads a run of taps whose hull is
        # that of its first and last taps' boxes; the period stays 1
        t, jump, b = geom.stride, prev.shift, prev.boxes[0]
        if b is None:
            return _Ax(1, t * jump, [None])
        first = -geom.offset * jump
        last = (geom.kernel - 1) * geom.dilation * jump + first
        return _Ax(1, t * jump, [(b[0] + min(first, last), b[1] + max(first, last))])
    q, t = geom.period
    return _compose(prev, q, t, geom.reads, node)


def _merge_axes(
    ins: list[_Ax], name: str, axis: int, notes: list[str], partial: list[bool],
    findings: list[str],
) -> _Ax:
    if any(a.is_global for a in ins):
        return _Ax(is_global=True)
    if all(a.period == 1 for a in ins) and len({a.shift for a in ins}) == 1:
        # the common case, in integers: one box per input, one stride; misaligned when the
        # boxes' centres (lo + hi) / 2 differ (an empty box's centre counts as 0, as in _start)
        firsts = [a.boxes[0] for a in ins]
        if len({0 if b is None else b[0] + b[1] for b in firsts}) == 1:
            kept = [b for b in firsts if b is not None]
            box = (min(b[0] for b in kept), max(b[1] for b in kept)) if kept else None
            return _Ax(1, ins[0].shift, [box])
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
    if a.period == 1:  # one box: its centre
        b = a.boxes[0]
        return Fraction(0) if b is None else Fraction(b[0] + b[1], 2)
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
        # an ONNX model read at its static input shape knows its size
        shape = graph.input_shape if graph.method == "onnx" else ()
        return tuple(shape[2:]) if len(shape) == graph.ndim + 2 else None
    size = as_size(input_size, "input_size", minimum=-(2**63))  # type and form; range below
    if len(size) == 1 and not isinstance(input_size, Sequence):
        size = size * graph.ndim
    if len(size) == graph.ndim + 2:
        size = size[1:-1] if _channels_last(graph, size) else size[2:]
    if len(size) != graph.ndim or any(
        isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in size
    ):
        raise AtrousError(
            f"input size must be {graph.ndim} spatial sizes >= 1 (or a full (N, C, ...) shape), "
            f"got {input_size!r}"
        )
    return size


def _channels_last(graph: Graph, size: tuple[Any, ...]) -> bool:
    """An ONNX model with a channels-last input: its ``input_shape`` is kept as (N, C, ...)."""
    shape = graph.input_shape
    return (graph.method == "onnx" and len(shape) == len(size) and shape[1] != shape[-1]
            and size == (shape[0], *shape[2:], shape[1]))


def node_sizes(
    graph: Graph, spatial: Ints | None, *, strict: bool = False,
    names: set[str] | None = None,
) -> dict[str, Ints | None]:
    """Spatial output size of every node (None where unknown: no input size, an opaque op).

    The one size propagation the analyses share. Uses a node's ``meta["shape"]`` (from the torch
    front end) where the layer cannot say. Merges broadcast size-1 inputs, as
    :meth:`Graph.shapes` does. ``strict``: a merge of different sizes or a layer that refuses
    its input (an opaque op among them) raises :class:`AtrousError` naming the node, and no
    ``meta`` shape is used. ``names`` restricts the work to those nodes (they must be closed
    under inputs).

    >>> node_sizes(as_graph("3x3 s2, up2"), (9, 9))
    {'input': (9, 9), 'conv0': (5, 5), 'upsample0': (10, 10)}
    """
    out: dict[str, Ints | None] = {}
    for node in graph.topological():
        if names is not None and node.name not in names:
            continue
        if isinstance(node.layer, Input):
            out[node.name] = spatial
            continue
        out[node.name] = _node_size(graph, node, [out[i] for i in node.inputs], strict)
    return out


def _node_size(graph: Graph, node: Any, ins: list[Ints | None], strict: bool) -> Ints | None:
    layer = node.layer
    size: Ints | None = None
    if all(s is not None for s in ins):
        known = [s for s in ins if s is not None]
        if isinstance(layer, Merge):
            size = tuple(max(v) for v in zip(*known))
            if strict and any(v not in (1, m) for s in known for v, m in zip(s, size)):
                raise AtrousError(f"{layer.mode} merge {node.name!r} gets different sizes {known}")
        else:
            try:
                size = layer.output_size(known[0])
            except AtrousError as exc:
                if strict:
                    raise AtrousError(f"at node {node.name!r}: {exc}") from None
    if size is not None or strict:
        return size
    meta_shape = node.meta.get("shape") if node.meta else None
    if isinstance(meta_shape, (tuple, list)) and len(meta_shape) >= graph.ndim:
        return tuple(int(v) for v in meta_shape[-graph.ndim :])
    return None


# -- the analysis -----------------------------------------------------------------------------
@dataclass
class _State:
    axes: list[_Ax]
    notes: list[str]
    partial: bool
    findings: list[str]


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _analyse(
    graph: Graph, spatial: Ints | None, only: str | None = None,
    sizes: Mapping[str, Ints | None] | None = None,
) -> dict[str, ReceptiveField]:
    """Every node's receptive field (``only``: that node's alone); ``sizes``: the nodes' sizes
    as :func:`node_sizes` gives them, when the caller has them."""
    if sizes is None:
        sizes = node_sizes(graph, spatial)
    states: dict[str, _State] = {}
    for node in graph.topological():
        layer = node.layer
        if isinstance(layer, Input):
            # a graph that may miss parts of the model (hook fallback) makes every field partial
            why = [graph.incomplete] if graph.incomplete else []
            states[node.name] = _State([_Ax() for _ in range(graph.ndim)], why, bool(why), [])
            continue
        ins = [states[i] for i in node.inputs]
        if len(ins) == 1:  # the input's lists, shared: no state's lists change once made
            notes, partial, findings = ins[0].notes, ins[0].partial, ins[0].findings
        else:
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
            if new_notes:
                notes = _dedupe(notes + new_notes)
            if new_findings:
                findings = _dedupe(findings + new_findings)
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
    frozen: dict[Any, AxisRF] = {}  # equal axis states make equal (immutable) AxisRFs
    return {
        name: _freeze(name, st, spatial, frozen)
        for name, st in states.items()
        if only is None or name == only
    }


def _freeze(name: str, st: _State, spatial: Ints | None,
            frozen: dict[Any, AxisRF]) -> ReceptiveField:
    axes = []
    for ax, a in enumerate(st.axes):
        if a.is_global:
            n = spatial[ax] if spatial is not None else None
            key: Any = ("global", n)
            got = frozen.get(key)
            if got is None:
                got = frozen[key] = AxisRF(
                    size=n if n is not None else 0, stride=Ratio(0),
                    start=Ratio(n - 1, 2) if n is not None else Ratio(0),
                    is_global=True, period=1, shift=0, boxes=((0, n - 1) if n else None,),
                )
        else:
            boxes = tuple(a.boxes)
            key = (a.period, a.shift, boxes)
            got = frozen.get(key)
            if got is None:
                got = frozen[key] = AxisRF(
                    size=_size(a), stride=Ratio(a.jump), start=Ratio(_start(a)), is_global=False,
                    period=a.period, shift=a.shift, boxes=boxes,
                )
        axes.append(got)
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
    ((27, 27), (4, 4), (0, 0))
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
    rfs = _analyse(graph, spatial_input_size(graph, input_size), output)
    return rfs[output]
