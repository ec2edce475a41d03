"""Exact tiled inference: the halo every tile needs, from the receptive field's per-unit boxes.

A network too large for one forward pass on the whole input (a whole-slide image, a satellite
scene, a CT volume) can run tile by tile and give **the same output** as the whole-image pass, if
each tile sees exactly the input its kept outputs read, and if every layer of the tile samples
the same grid as on the whole image. atrous knows both exactly:

- the **halo**: output unit ``u`` reads the input pixels of its box ``[lo(u), hi(u)]``
  (:meth:`atrous.ReceptiveField.box`). For a tile that keeps the output units ``[a, b)``, whose
  core is the input range ``[a*J, b*J)`` (``J`` the effective stride of the output), the input
  needed is ``[a*J - before, b*J + after)`` with ``before = -min lo`` and
  ``after = max hi - shift + 1`` over one period of boxes. Exact: with one pixel less on any side
  some kept output reads a pixel the tile does not have.
- the **alignment**: a tile's input origin must be a multiple of every node's box period
  (``shift``: the effective stride, or its numerator after upsampling), else the tile's layers
  sample other positions than the whole image's (a stride-2 layer started one pixel later).
  Tile windows start at a multiple of it (the extra pixels before the halo are zeroed: no kept
  output reads them) and their length is a multiple of it unless they end at the image border.
- the **borders**: the network pads at the image border; a tile pads the same way only where its
  window starts (or ends) at that border, which is where windows are clipped.

Operations that see the whole map (global pooling, an image-pooling ASPP branch, attention,
norms whose statistics span the map, ``F.interpolate`` to an input-dependent size, adaptive
pooling), opaque operations, and a model in training mode (batch statistics differ per tile)
make exact tiling impossible: the plan says so, naming the layer, and :func:`tiled_forward`
refuses to run.

    >>> plan = tile_plan("3 d1, 3 d2, 3 d4", 100, 32)
    >>> plan.halo, plan.alignment
    (((7, 7),), (1,))
    >>> [t.input for t in plan.tiles]
    [((0, 39),), ((25, 71),), ((57, 100),), ((89, 100),)]
    >>> tile_plan("3 s2 p1, 3 s2 p1, 3 d2 p2", 64, 4).alignment   # two stride-2 layers
    (4,)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ._types import Ints, as_int
from .errors import AtrousError
from .findings import Finding
from .graph import Graph, as_graph
from .layers import (
    AdaptivePool,
    Conv,
    ConvTranspose,
    Dense,
    GlobalPool,
    Opaque,
    Pointwise,
    Resize,
    Upsample,
)
from .rf import ReceptiveField, receptive_fields

if TYPE_CHECKING:
    from .layers import Layer  # annotations only

__all__ = ["RUNTIME_BYTES", "Tile", "TilePlan", "tile_plan", "tiled_forward"]

Span = tuple[int, int]

RUNTIME_BYTES = 8 * 2**20
"""Memory a forward pass needs besides its tensors and weights on a new input shape (kernels and
scratch space): the resident-set growth of a small window's forward pass beyond its tensors was
5 to 7 MiB (200- and 400-px windows of the dilated ResNet-18, x86-64, PyTorch 2.13); part of
:attr:`TilePlan.fixed_bytes`."""

_MAP_NORMS = {"GroupNorm", "group_norm", "LayerNorm", "layer_norm", "RMSNorm", "rms_norm",
              "normalize", "local_response_norm"}
"""Pointwise-modelled ops whose statistics span the map (always computed from the input)."""


def _refusal(code: str, node: str | None, message: str) -> Finding:
    """A finding that makes exact tiling impossible (severity ``error``; the codes are in
    :data:`atrous.findings.CODES`: ``global-op``, ``size-dependent``, ``map-statistics``,
    ``opaque-op``, ``partial``, ``training-mode``, ``multi-output``)."""
    return Finding(code, "error", message, node)


@dataclass(frozen=True)
class Tile:
    """One tile of a plan (per axis, half-open ``[start, stop)`` ranges).

    Attributes:
        index: the tile's position in the tile grid.
        input: the input window the network runs on (aligned, clipped to the image).
        valid: the part of ``input`` the kept outputs read (the core and its halo, clipped);
            :func:`tiled_forward` zeroes the rest, which no kept output reads.
        output: the output units the tile keeps, in whole-output coordinates.
        crop: the same units in the tile's own output.
    """

    index: Ints
    input: tuple[Span, ...]
    valid: tuple[Span, ...]
    output: tuple[Span, ...]
    crop: tuple[Span, ...]

    def to_dict(self) -> dict[str, Any]:
        return {k: [list(s) for s in getattr(self, k)] for k in ("input", "valid", "output",
                                                                 "crop")} | {
            "index": list(self.index)}


@dataclass(frozen=True)
class TilePlan:
    """How to run a network tile by tile with exactly the whole-image result.

    Attributes:
        node: the output node the plan is for.
        input_size: spatial input size.
        output_size: spatial output size (None when the plan is refused before sizes are known).
        tile: requested output tile size per axis, in output units.
        halo: per axis ``(before, after)``: input pixels a tile's kept outputs read beyond its
            core ``[a*J, b*J)`` (may be negative where a stride skips the last pixels).
        alignment: per axis, the multiple of input pixels every tile window starts at.
        tile_alignment: per axis, the multiple of output units a tile size must be.
        output_stride: effective stride of the output in input pixels (a fraction after
            upsampling).
        tiles: the tiles (empty when refused).
        findings: refusals (severity ``error``) and notes.
        bytes_per_pixel: the estimated peak of the tensors alive at once in one forward pass
            (the input, the activations each node reads and writes, the output), per input
            pixel, when the model's shapes are known; each tensor is freed after its last
            reader, in-place ops count as new tensors.
        fixed_bytes: what one forward pass needs besides its tensors: a copy of the largest
            convolution weight (oneDNN may reorder a weight into its own layout per call) and
            :data:`RUNTIME_BYTES` of kernels and scratch space for a new shape.
        output_bytes: bytes of the whole stitched output (None when unknown).
    """

    node: str
    input_size: Ints
    output_size: Ints | None
    tile: Ints
    halo: tuple[Span, ...]
    alignment: Ints
    tile_alignment: Ints
    output_stride: tuple[Fraction, ...]
    tiles: tuple[Tile, ...]
    findings: tuple[Finding, ...] = ()
    bytes_per_pixel: float | None = None
    fixed_bytes: int = 0
    output_bytes: int | None = None
    _geometry: Any = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when the network can be tiled exactly (no ``error`` finding)."""
        return not any(f.severity == "error" for f in self.findings)

    @property
    def refusals(self) -> list[Finding]:
        """The ``error`` findings: why the network cannot be tiled exactly."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def input_pixels(self) -> int:
        """Input pixels (per sample and channel) the tiles compute on, all windows together."""
        return sum(math.prod(b - a for a, b in t.input) for t in self.tiles)

    @property
    def overlap_factor(self) -> float:
        """Input pixels computed over all tiles / input pixels of the whole image (>= 1 once
        the tiles cover the image; the extra work that the halo costs)."""
        return self.input_pixels / math.prod(self.input_size) if self.tiles else float("nan")

    @property
    def max_window(self) -> Ints:
        """The largest tile window (per axis), which bounds a tile's memory."""
        if not self.tiles:
            return tuple(0 for _ in self.input_size)
        return max((tuple(b - a for a, b in t.input) for t in self.tiles), key=math.prod)

    @property
    def peak_bytes(self) -> int | None:
        """Estimated peak memory of the forward pass on the largest tile window: its tensors
        (``bytes_per_pixel``) plus ``fixed_bytes`` (None when unknown). A tiled run needs this
        plus ``output_bytes``."""
        if self.bytes_per_pixel is None or not self.tiles:
            return None
        return int(self.bytes_per_pixel * math.prod(self.max_window)) + self.fixed_bytes

    @property
    def whole_bytes(self) -> int | None:
        """The same estimate for one forward pass on the whole input (None when unknown)."""
        if self.bytes_per_pixel is None:
            return None
        return int(self.bytes_per_pixel * math.prod(self.input_size)) + self.fixed_bytes

    def _fixed_overlap_line(self) -> str:
        """The common practice next to the plan: windows of twice the tile every tile."""
        nd = len(self.input_size)
        core = [float(t * s) for t, s in zip(self.tile, self.output_stride)]
        half = [c / 2 for c in core]
        short = any(h < max(b, a) for h, (b, a) in zip(half, self.halo))
        return (f"a fixed 50% overlap (windows twice the tile, one every tile) computes "
                f"{2**nd:.2f}x the input ({2**nd / self.overlap_factor:.2f}x this plan) with a "
                f"halo of {'x'.join(f'{h:g}' for h in half)} px per side: "
                + ("too small, wrong near tile edges" if short else "large enough, but wasteful"))

    def check(self) -> None:
        """Raise :class:`AtrousError` naming the first refusal, if any."""
        if not self.ok:
            first = self.refusals[0]
            more = len(self.refusals) - 1
            extra = f" (and {more} more)" if more else ""
            raise AtrousError(f"cannot tile exactly: {first.message}{extra}")

    def recommend(self, max_memory: int | None = None) -> Ints:
        """The tile size (output units, per axis) with the smallest overlap factor whose
        largest window's forward pass fits ``max_memory`` bytes (estimated as
        :attr:`peak_bytes`; the stitched output, ``output_bytes``, comes on top).

        Without ``max_memory`` (or without a memory estimate) the whole output is one tile.
        """
        geo: _Geometry | None = self._geometry
        if geo is None or self.output_size is None:
            raise AtrousError(f"no tile to recommend: {self.refusals[0].message}")
        return geo.recommend(max_memory, self.bytes_per_pixel, self.fixed_bytes)

    def with_halo(self, halo: Any) -> TilePlan:
        """The same plan with another halo (an int, or per axis an int or ``(before, after)``):
        windows keep at least their exact size, pixels outside the new halo are zeroed."""
        import dataclasses

        geo: _Geometry | None = self._geometry
        if geo is None:
            raise AtrousError(f"cannot change the halo of a refused plan: "
                              f"{self.refusals[0].message}")
        halo_t = _as_halo(halo, len(self.input_size))
        return dataclasses.replace(self, halo=halo_t, tiles=geo.tiles(self.tile, halo_t))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able record of the plan."""
        return {
            "node": self.node,
            "input_size": list(self.input_size),
            "output_size": None if self.output_size is None else list(self.output_size),
            "tile": list(self.tile),
            "halo": [list(h) for h in self.halo],
            "alignment": list(self.alignment),
            "tile_alignment": list(self.tile_alignment),
            "output_stride": [str(s) for s in self.output_stride],
            "ok": self.ok,
            "overlap_factor": None if not self.tiles else round(self.overlap_factor, 6),
            "max_window": list(self.max_window),
            "bytes_per_pixel": self.bytes_per_pixel,
            "fixed_bytes": self.fixed_bytes,
            "peak_bytes": self.peak_bytes,
            "output_bytes": self.output_bytes,
            "findings": [f.to_dict() for f in self.findings],
            "tiles": [t.to_dict() for t in self.tiles],
        }

    def __str__(self) -> str:
        from .units import format_size

        x = "x".join
        lines = [f"input {x(map(str, self.input_size))}"
                 + (f" -> output {x(map(str, self.output_size))}" if self.output_size else "")
                 + f" (node {self.node!r})"]
        for f in self.findings:
            lines.append(f"{f.severity}: {f.message}")
        if not self.ok:
            lines.append("exact tiling is impossible: the plan refuses to run")
            return "\n".join(lines)
        halo = ", ".join(f"{b} before / {a} after" for b, a in self.halo)
        lines += [
            f"halo (input pixels, per axis): {halo}",
            f"alignment: windows start at multiples of {x(map(str, self.alignment))} input "
            f"pixels; tiles are multiples of {x(map(str, self.tile_alignment))} output units",
            f"output stride: {x(map(str, self.output_stride))}",
            f"tile {x(map(str, self.tile))} output units: {len(self.tiles)} tiles, largest window "
            f"{x(map(str, self.max_window))}",
            f"overlap factor {self.overlap_factor:.3f} (input pixels computed / input pixels): "
            f"{self.overlap_factor - 1:.1%} extra",
            self._fixed_overlap_line(),
        ]
        if self.peak_bytes is not None:
            lines.append(f"estimated peak memory of the largest tile's forward pass: "
                         f"{format_size(self.peak_bytes)} (the whole input's: "
                         f"{format_size(self.whole_bytes or 0)}), plus the output "
                         f"{format_size(self.output_bytes or 0)}")
        return "\n".join(lines)


# -- geometry ---------------------------------------------------------------------------------
@dataclass
class _Geometry:
    node: str
    input_size: Ints
    output_size: Ints
    halo: tuple[Span, ...]
    alignment: Ints
    tile_alignment: Ints
    output_stride: tuple[Fraction, ...]
    period: Ints
    shift: Ints

    def tiles(self, tile: Ints, halo: tuple[Span, ...] | None = None) -> tuple[Tile, ...]:
        """The tiles; ``halo`` (an override) sets the valid ranges, the windows stay at least
        as large as the exact halo makes them (a smaller halo zeroes pixels, as if missing)."""
        halo = self.halo if halo is None else halo
        per_axis = [self._axis(ax, tile[ax], halo[ax]) for ax in range(len(tile))]
        out = []
        for idx in _product([range(len(p)) for p in per_axis]):
            parts = [per_axis[ax][i] for ax, i in enumerate(idx)]
            out.append(Tile(idx, *(tuple(p[k] for p in parts) for k in range(4))))
        return tuple(out)

    def _axis(self, ax: int, tile: int, halo: Span) -> list[tuple[Span, Span, Span, Span]]:
        n, m = self.input_size[ax], self.output_size[ax]
        a_in, p, s = self.alignment[ax], self.period[ax], self.shift[ax]
        before, after = halo
        wb, wa = max(before, self.halo[ax][0]), max(after, self.halo[ax][1])
        rows = []
        for a in range(0, m, tile):
            b = min(m, a + tile)
            # the core [a*J, b*J): a is a multiple of the period (tiles are aligned); the last
            # tile may end inside a period, its boxes are those of its last unit's period
            c0 = a * s // p
            c1 = -(-b // p) * s
            lo, hi = c0 - wb, c1 + wa
            start = max(0, (lo // a_in) * a_in)
            stop = min(n, start + -(-(hi - start) // a_in) * a_in)
            valid = (max(0, c0 - before), min(n, c1 + after))
            off = start * p // s  # the window starts at a multiple of the output's shift
            rows.append(((start, stop), (min(max(start, valid[0]), stop),
                                         min(max(start, valid[1]), stop)),
                         (a, b), (a - off, b - off)))
        return rows

    def recommend(self, max_memory: int | None, bytes_per_pixel: float | None,
                  fixed_bytes: int = 0) -> Ints:
        if max_memory is None or bytes_per_pixel is None:
            return self.output_size
        # the tiles are a product grid: the largest window and the input computed are
        # products of per-axis figures (largest window length, sum of window lengths)
        per_axis = []
        for ax, (m, step) in enumerate(zip(self.output_size, self.tile_alignment)):
            opts = []
            for t in _candidates(m, step):
                lens = [b - a for (a, b), *_ in self._axis(ax, t, self.halo[ax])]
                opts.append((t, max(lens), sum(lens)))
            per_axis.append(opts)
        best: tuple[int, int, Ints] | None = None
        for combo in _product(per_axis):
            window = math.prod(o[1] for o in combo)
            if window * bytes_per_pixel + fixed_bytes > max_memory:
                continue
            key = (math.prod(o[2] for o in combo), window, tuple(o[0] for o in combo))
            if best is None or key < best:
                best = key
        if best is None:
            raise AtrousError(
                f"no tile fits max_memory={max_memory} bytes: even the smallest tile "
                f"{self.tile_alignment} needs more (about {bytes_per_pixel:.0f} bytes per input "
                f"pixel and {fixed_bytes} bytes besides)")
        return best[2]


def _candidates(m: int, step: int) -> list[int]:
    """Tile sizes to try along one axis (multiples of ``step``): the smallest size that cuts
    the axis into ``n`` tiles for ``n`` up to 64, and powers of two times ``step`` below."""
    if m <= step:
        return [step]
    sizes = {min(m, _ceil(_ceil(m, n), step) * step) for n in range(1, min(64, m // step) + 1)}
    k, low = step, min(sizes)
    while k < low:
        sizes.add(k)
        k *= 2
    return sorted(sizes)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _product(ranges: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    import itertools

    return list(itertools.product(*ranges))


def _as_tile(tile: Any, ndim: int) -> Ints:
    if isinstance(tile, str):
        from .units import parse_size

        tile = parse_size(tile, "tile")
    if isinstance(tile, Sequence) and len(tile) == 1 and ndim > 1:
        tile = tile[0]
    if isinstance(tile, Sequence):
        if len(tile) != ndim:
            raise AtrousError(f"tile must have {ndim} entries (one per axis), got {tuple(tile)!r}")
        return tuple(as_int(v, "tile", 1) for v in tile)
    return (as_int(tile, "tile", 1),) * ndim


def _as_halo(halo: Any, ndim: int) -> tuple[Span, ...]:
    def pair(v: Any) -> Span:
        if isinstance(v, Sequence) and not isinstance(v, (str, bytes)):
            if len(v) != 2:
                raise AtrousError(f"a halo entry is an int or a (before, after) pair, got {v!r}")
            return (as_int(v[0], "halo"), as_int(v[1], "halo"))
        return (as_int(v, "halo"), as_int(v, "halo"))

    if isinstance(halo, Sequence) and not isinstance(halo, (str, bytes)):
        if len(halo) != ndim:
            raise AtrousError(f"halo must have {ndim} entries (one per axis), got {halo!r}")
        return tuple(pair(h) for h in halo)
    return (pair(halo),) * ndim


def _spatial(graph: Graph, input_size: Any) -> Ints:
    if isinstance(input_size, str):
        from .units import parse_size

        input_size = parse_size(input_size, "input size")
    if isinstance(input_size, int) and not isinstance(input_size, bool):
        input_size = (input_size,) * graph.ndim
    if isinstance(input_size, (str, bytes)) or not isinstance(input_size, Sequence):
        raise AtrousError(f"input size must be an int or a tuple of ints, got {input_size!r}")
    size = tuple(input_size)
    if len(size) == graph.ndim + 2:
        size = size[2:]
    if len(size) != graph.ndim:
        raise AtrousError(f"input size must have {graph.ndim} spatial sizes (or be a full "
                          f"(N, C, ...) shape), got {tuple(input_size)!r}")
    return tuple(as_int(v, "input size", 1) for v in size)


def _label(graph: Graph, name: str) -> str:
    meta = graph[name].meta
    target = meta.get("target") if meta else None
    module = meta.get("module") if meta else None
    where = f"{module!r}" if module and module != name else f"{name!r}"
    return f"{where} ({target})" if target and target != name else where


def _layer_refusal(layer: Layer, what: str, map_statistics: bool) -> tuple[str, str] | None:
    """Why ``layer`` (shown as ``what``) cannot be computed tile by tile: ``(code, sentence)``,
    or None where a tile computes it exactly. ``map_statistics``: a note says the node
    normalises with statistics of the whole map."""
    if isinstance(layer, (GlobalPool, Dense)) or (
            isinstance(layer, AdaptivePool) and all(t == 1 for t in layer.target)):
        return "global-op", (
            f"{what} sees the whole map (global pooling, an image-pooling branch, attention "
            "or a dense layer): a tile cannot compute it")
    if isinstance(layer, AdaptivePool):
        return "size-dependent", (
            f"{what} pools to {layer.target} cells: its windows depend on the input size")
    if isinstance(layer, Resize) or (
            isinstance(layer, Upsample) and layer.align_corners and layer.mode != "nearest"):
        return "size-dependent", (
            f"{what} interpolates with a grid that depends on the input size (F.interpolate "
            "to a size, or align_corners=True): a tile samples other positions")
    if isinstance(layer, Opaque):
        return "opaque-op", f"{what} is opaque ({layer.reason}): its reads are unknown"
    if isinstance(layer, Pointwise) and (layer.op in _MAP_NORMS or map_statistics):
        return "map-statistics", (
            f"{what} normalises with statistics computed over the map, which differ per tile")
    return None


def _refusals(graph: Graph, rfs: dict[str, ReceptiveField]) -> list[Finding]:
    out: list[Finding] = []
    stat_notes = [n for n in getattr(graph, "notes", []) if "normalises with" in n]
    for node in graph.layer_nodes():
        name = node.name
        refusal = _layer_refusal(node.layer, _label(graph, name),
                                 any(n.startswith(f"{name} (") for n in stat_notes))
        if refusal is not None:
            out.append(_refusal(refusal[0], name, refusal[1]))
    if not out:
        for name, rf in rfs.items():
            if rf.partial:
                why = "; ".join(rf.diagnostics) or "the receptive field is partial"
                out.append(_refusal("partial", name,
                                       f"the geometry is not exact at {name!r}: {why}"))
                break
    if getattr(graph, "partial", False) and not out:
        why = "; ".join(getattr(graph, "diagnostics", [])) or "the graph is partial"
        out.append(_refusal("partial", None, f"the traced graph is partial: {why}"))
    return out


def _module_refusals(model: Any) -> list[Finding]:
    import torch.nn as nn

    out = []
    for path, m in model.named_modules():
        kind = type(m).__name__
        where = f"{path or type(model).__name__!r} ({kind})"
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and (
                m.training or not m.track_running_stats):
            out.append(_refusal(
                "training-mode", path or None,
                f"{where} normalises with batch statistics ("
                + ("training mode" if m.training else "no running statistics")
                + "), which differ per tile: call model.eval()"))
        elif isinstance(m, nn.modules.instancenorm._InstanceNorm) and (
                m.training or not m.track_running_stats):
            out.append(_refusal(
                "map-statistics", path or None,
                f"{where} normalises each map with its own statistics, which differ per tile"))
        elif isinstance(m, nn.modules.dropout._DropoutNd | nn.Dropout) and m.training and m.p > 0:
            out.append(_refusal(
                "training-mode", path or None,
                f"{where} is in training mode (random per call): call model.eval()"))
    return out


def _lcm(values: Sequence[int]) -> int:
    return math.lcm(*values) if values else 1


def _geometry(graph: Graph, spatial: Ints, rfs: dict[str, ReceptiveField],
              node: str) -> _Geometry:
    out_rf = rfs[node]
    sizes = graph.shapes(spatial)
    output_size = tuple(sizes[node])
    alignment: list[int] = []
    tile_alignment: list[int] = []
    halo: list[Span] = []
    period: list[int] = []
    shift: list[int] = []
    for ax in range(graph.ndim):
        shifts = [rf.axes[ax].shift for rf in rfs.values()
                  if not rf.axes[ax].is_global and rf.axes[ax].shift > 0]
        a_in = _lcm(shifts)
        axis = out_rf.axes[ax]
        boxes = [b for b in axis.boxes if b is not None]
        p, s = axis.period, axis.shift
        if not boxes or s <= 0:
            raise AtrousError(f"the output {node!r} reads no input along axis {ax}")
        before = -min(b[0] for b in boxes)
        after = max(b[1] for b in boxes) - s + 1
        alignment.append(a_in)
        tile_alignment.append(p * a_in // math.gcd(a_in, s))
        halo.append((before, after))
        period.append(p)
        shift.append(s)
    return _Geometry(node, spatial, output_size, tuple(halo), tuple(alignment),
                     tuple(tile_alignment), tuple(out_rf.stride), tuple(period), tuple(shift))


def _bytes_per_pixel(graph: Graph, spatial: Ints, itemsize: int) -> float | None:
    """Peak bytes of the tensors alive at once in one forward pass, per input pixel.

    The nodes run in the graph's order; each node's output is allocated when it runs and freed
    after its last reader has run (the model's output is kept). The peak is taken while a node
    runs, with its inputs and its output alive, and a convolution's output counted twice
    (the measured peaks show a second copy while a oneDNN convolution runs, consistent with
    its computing in its own blocked layout and reordering into the plain one). In-place ops
    are counted as new tensors. Not counted: oneDNN's scratch space (small), and the unfolded
    input of PyTorch's native dilated convolution (used only when oneDNN is off, ``k**2``
    times the input). None when a node's shape is unknown.
    """
    nodes = graph.topological()
    size: dict[str, int] = {}
    inp = getattr(graph, "input_shape", ()) or ()
    for node in nodes:
        shape = inp if node.name == "input" else (node.meta.get("shape") if node.meta else None)
        if not isinstance(shape, (tuple, list)) or not shape:
            return None
        size[node.name] = math.prod(int(v) for v in shape)
    last: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for name in node.inputs:
            last[name] = i
    keep = set(graph.outputs)
    live = peak = 0
    for i, node in enumerate(nodes):
        live += size[node.name]
        twice = size[node.name] if isinstance(node.layer, (Conv, ConvTranspose)) else 0
        peak = max(peak, live + twice)
        for name in set(node.inputs):
            if last.get(name) == i and name not in keep:
                live -= size[name]
    return peak * itemsize / math.prod(spatial)


def _check_tile(tile: Ints, geo: _Geometry) -> None:
    for ax, (t, step) in enumerate(zip(tile, geo.tile_alignment)):
        if t % step and t < geo.output_size[ax]:
            lower = max(step, t // step * step)
            raise AtrousError(
                f"tile {t} on axis {ax} is not a multiple of the alignment {step} output units "
                f"(every tile window must start on the grid of all the network's strides); "
                f"try {lower} or {lower + step}")


def tile_plan(
    model: Any,
    input_size: Any,
    tile: Any,
    *,
    halo: Any = None,
    check_sizes: bool = True,
) -> TilePlan:
    """Plan an exact tiled run of ``model`` on an input of ``input_size`` with output tiles of
    ``tile`` units per axis.

    Args:
        model: anything :func:`atrous.as_graph` accepts; an ``nn.Module`` needs the full
            ``(N, C, *spatial)`` shape as ``input_size``.
        input_size: spatial size (an int for every axis, a tuple, ``"512x512"``) or the full
            tensor shape.
        tile: output tile size per axis, in output units (a multiple of the plan's
            ``tile_alignment``; a tile larger than the output is one tile).
        halo: override the exact halo: an int, or per axis an int or a ``(before, after)``
            pair (to see that one pixel less is wrong).
        check_sizes: for an ``nn.Module``, trace it again at the tile windows' sizes and refuse
            when a layer's geometry changes with the size (``F.interpolate(size=x.shape)``).

    Returns:
        A :class:`TilePlan`. When the network cannot be tiled exactly, ``plan.ok`` is False,
        ``plan.findings`` names the layer, and ``plan.tiles`` is empty.

    Raises:
        AtrousError: for bad sizes or a tile that is not a multiple of the alignment.

    >>> plan = tile_plan("3x3 s2 p1, 3x3 d2 p2, tconv 2x2 s2", (50, 37), 16)
    >>> plan.halo, plan.alignment, plan.tile_alignment
    (((5, 4), (5, 4)), (2, 2), (2, 2))
    >>> len(plan.tiles), round(plan.overlap_factor, 3)
    (12, 2.403)
    >>> tile_plan("3x3, gpool", (32, 32), 8).refusals[0].code
    'global-op'
    """
    torch_model = _is_module(model)
    if isinstance(input_size, str):
        from .units import parse_size

        input_size = parse_size(input_size, "input size")
    graph = as_graph(model, input_size)
    spatial = _spatial(graph, input_size)
    tile_t = _as_tile(tile, graph.ndim)
    findings = _module_refusals(model) if torch_model else []
    outs = graph.outputs
    node = outs[0]
    if len(outs) != 1:
        findings.append(_refusal(
            "multi-output", None,
            f"the model has {len(outs)} outputs {list(outs)}: tile a model with one output"))
    rfs = receptive_fields(graph, spatial)
    findings += _refusals(graph, rfs)
    if any(f.severity == "error" for f in findings):
        nd = graph.ndim
        return TilePlan(node, spatial, None, tile_t, ((0, 0),) * nd, (1,) * nd, (1,) * nd,
                        (Fraction(0),) * nd, (), tuple(findings))
    geo = _geometry(graph, spatial, rfs, node)
    _check_tile(tile_t, geo)
    tile_t = tuple(min(t, max(m, 1)) for t, m in zip(tile_t, geo.output_size))
    halo_t = geo.halo if halo is None else _as_halo(halo, graph.ndim)
    tiles = geo.tiles(tile_t, halo_t)
    itemsize, fixed, out_bytes = 4, 0, None
    if torch_model:
        if check_sizes:
            findings += _size_changes(model, graph, tiles)
        itemsize, fixed, out_bytes = _module_bytes(model, graph, node)
    bpp = _bytes_per_pixel(graph, spatial, itemsize) if torch_model else None
    if any(f.severity == "error" for f in findings):
        tiles = ()
    return TilePlan(node, spatial, geo.output_size, tile_t, halo_t, geo.alignment,
                    geo.tile_alignment, geo.output_stride, tiles, tuple(findings), bpp,
                    fixed, out_bytes, geo)


def _module_bytes(model: Any, graph: Any, node: str) -> tuple[int, int, int | None]:
    """An ``nn.Module``'s element size, :attr:`TilePlan.fixed_bytes` (a copy of the largest
    convolution weight plus :data:`RUNTIME_BYTES`) and the bytes of ``node``'s whole output
    (None when its shape is unknown)."""
    import torch

    from .fx.plumbing import _dtype

    itemsize = torch.empty((), dtype=_dtype(model)).element_size()
    weights = [m.weight.numel() for m in model.modules()
               if isinstance(m, torch.nn.modules.conv._ConvNd)]
    fixed = RUNTIME_BYTES + max(weights, default=0) * itemsize
    shape = graph[node].meta.get("shape") if graph[node].meta else None
    out_bytes = None
    if isinstance(shape, (tuple, list)) and shape:
        out_bytes = math.prod(int(v) for v in shape) * itemsize
    return itemsize, fixed, out_bytes


def _is_module(model: Any) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def _size_changes(model: Any, graph: Graph, tiles: tuple[Tile, ...]) -> list[Finding]:
    """Trace ``model`` at the windows' sizes; a layer that changes with the size is refused.

    Each axis's window lengths are tried with the other axes at the whole image's first
    window (the geometry of every layer atrous models is separable per axis).
    """
    from .fx import to_graph

    lead = tuple(getattr(graph, "input_shape", ())[:2]) or (1, 1)
    first = tuple(b - a for a, b in tiles[0].input)
    shapes = {first}
    for ax in range(graph.ndim):
        for t in tiles:
            changed = list(first)
            changed[ax] = t.input[ax][1] - t.input[ax][0]
            shapes.add(tuple(changed))
    whole = {n.name: n.layer for n in graph.layer_nodes()}
    for shape in sorted(shapes):
        try:
            g = to_graph(model, (*lead, *shape))
        except AtrousError as exc:
            return [_refusal("size-dependent", None,
                                f"the model does not run on a {'x'.join(map(str, shape))} tile "
                                f"window: {exc}")]
        for n in g.layer_nodes():
            before = whole.get(n.name)
            if before is not None and before != n.layer:
                return [_refusal(
                    "size-dependent", n.name,
                    f"{_label(g, n.name)} changes with the input size ({before!r} on the whole "
                    f"input, {n.layer!r} on a {'x'.join(map(str, shape))} window), e.g. "
                    "F.interpolate(size=x.shape[-2:]): a tile computes something else")]
        if [n.name for n in g.layer_nodes()] != list(whole):
            return [_refusal("size-dependent", None,
                                f"the model's graph changes with the input size (on a "
                                f"{'x'.join(map(str, shape))} window)")]
    return []


def tiled_forward(model: Any, x: Any, tile: Any, halo: Any = None, *,
                  plan: TilePlan | None = None, out: Any = None) -> Any:
    """Run ``model`` on ``x`` tile by tile and stitch the output: equal to ``model(x)``.

    Each tile's window is a view of ``x`` (no copy; with an overridden ``halo`` the pixels
    outside it are zeroed in a copy, as if missing), the model runs on it under
    ``torch.inference_mode()``, and the kept units are written straight into the output, which
    is allocated once. Nothing of a tile outlives its copy, so the peak memory is the output
    plus one tile's forward pass (:attr:`TilePlan.peak_bytes` estimates the latter). Works for
    1-D, 2-D and 3-D inputs and any number of channels.

    Args:
        model: an ``nn.Module`` in eval mode, returning one tensor.
        x: the input tensor ``(N, C, *spatial)``.
        tile: output tile size per axis (output units), see :func:`tile_plan`.
        halo: override the plan's exact halo (``(before, after)`` per axis, or an int).
        plan: a plan made beforehand for this model and shape (skips planning).
        out: a tensor of the output's shape, dtype and device to write into (allocated when
            None); it may be a strided view, but its memory must not overlap ``x``'s (later
            tiles read ``x``) nor itself (an ``expand()``-ed tensor).

    Returns:
        The output tensor, as ``model(x)`` (``out`` when given).

    Raises:
        AtrousError: when the model cannot be tiled exactly (the layer is named).

    Shape:
        - x: ``(N, C, *spatial)``; output: as ``model(x)``.

    >>> import torch, torch.nn as nn
    >>> net = nn.Sequential(nn.Conv1d(1, 2, 3, padding=2, dilation=2), nn.ReLU(),
    ...                     nn.Conv1d(2, 1, 3, stride=2, padding=1)).eval()
    >>> x = torch.randn(1, 1, 101)
    >>> torch.allclose(tiled_forward(net, x, 16), net(x), atol=1e-6)
    True
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise AtrousError(f"tiled_forward needs a torch.Tensor input, got {type(x).__name__}")
    if out is not None:
        _check_out(out, x)
    if plan is None:
        plan = tile_plan(model, tuple(x.shape), tile)
    elif x.dim() != len(plan.input_size) + 2 or tuple(x.shape[2:]) != tuple(plan.input_size):
        raise AtrousError(f"x has shape {tuple(x.shape)}, the plan was made for a spatial size "
                          f"{tuple(plan.input_size)}: make a plan for this input")
    plan.check()
    if halo is not None:
        plan = plan.with_halo(halo)
    return _run_tiles(model, x, plan, out)


def _run_tiles(model: Any, x: Any, plan: TilePlan, out: Any = None) -> Any:
    """Run the tiles one at a time, each window a view of ``x`` (copied only where a
    non-exact halo zeroes pixels), each kept region written straight into ``out``; nothing of
    a tile outlives its copy into ``out``, so the peak is ``out`` plus one tile's forward."""
    import torch

    nd = len(plan.input_size)
    exact = plan._geometry is None or plan.halo == plan._geometry.halo
    with torch.no_grad():
        for t in plan.tiles:
            window = x[_index(t.input)]
            if not exact:  # an overridden halo: the pixels outside it are zeroed, as missing
                window = _mask(window, t)
            with torch.inference_mode():  # out stays an ordinary tensor
                y = model(window)
            del window
            if not isinstance(y, torch.Tensor):
                raise AtrousError(f"tiled_forward needs a model returning one tensor, got "
                                  f"{type(y).__name__}")
            got = tuple(y.shape[-nd:])
            if any(b > g for (_, b), g in zip(t.crop, got)):
                raise AtrousError(f"tile {t.index}: the model returned {got} units, the plan "
                                  f"keeps {t.crop} (a layer the geometry does not model?)")
            if out is None:
                assert plan.output_size is not None
                out = y.new_empty((*y.shape[:-nd], *plan.output_size))
            elif tuple(out.shape[:-nd]) != tuple(y.shape[:-nd]) or (
                    tuple(out.shape[-nd:]) != plan.output_size):
                raise AtrousError(f"out has shape {tuple(out.shape)}, the output is "
                                  f"{(*y.shape[:-nd], *(plan.output_size or ()))}")
            elif out.dtype != y.dtype or out.device != y.device:
                raise AtrousError(f"out is {out.dtype} on {out.device}, the output is "
                                  f"{y.dtype} on {y.device} (no silent conversion)")
            out[_index(t.output)] = y[_index(t.crop)]
            del y
    return out


def _span(t: Any) -> tuple[int, int]:
    """The bytes ``[first, last]`` a (non-empty) tensor's elements lie in."""
    lo = hi = 0
    for n, st in zip(t.shape, t.stride()):
        if st > 0:
            hi += (n - 1) * st
        else:
            lo += (n - 1) * st
    size = t.element_size()
    return t.data_ptr() + lo * size, t.data_ptr() + hi * size + size - 1


def _check_out(out: Any, x: Any) -> None:
    """``out`` must be a tensor that neither overlaps itself nor ``x``'s memory."""
    import torch

    if not isinstance(out, torch.Tensor):
        raise AtrousError(f"out must be a torch.Tensor, got {type(out).__name__}")
    if any(st == 0 and n > 1 for n, st in zip(out.shape, out.stride())):
        raise AtrousError(f"out has stride {tuple(out.stride())}: several of its elements share "
                          "one memory location (an expand()-ed tensor); pass a tensor of its own")
    if out.numel() and x.numel() and out.device == x.device and out.device.type != "meta":
        (a, b), (c, d) = _span(out), _span(x)
        if a <= d and c <= b:
            raise AtrousError("out overlaps the input's memory: a tile would read outputs "
                              "written by the tiles before it; pass a separate tensor")


def _index(spans: Sequence[Span]) -> tuple[Any, ...]:
    """``x[_index(spans)]`` cuts the trailing axes of ``x`` to ``spans``."""
    return (Ellipsis, *[slice(a, b) for a, b in spans])


def _mask(window: Any, t: Tile) -> Any:
    """Zero the window's pixels outside the tile's valid range (read by no kept output)."""
    if all(v == w for v, w in zip(t.valid, t.input)):
        return window
    window = window.clone()
    nd = len(t.input)
    for ax, ((a, b), (va, vb)) in enumerate(zip(t.input, t.valid)):
        dim = window.ndim - nd + ax
        if va > a:
            window.narrow(dim, 0, va - a).zero_()
        if vb < b:
            window.narrow(dim, vb - a, b - vb).zero_()
    return window
