"""Where a tensor's image axes are: followed through ``permute``, ``transpose`` and ``view``.

A *layout* lists, for each image axis (H, W, ...), the tensor axes it is made of, outer to inner:
``((2,), (3,))`` is NCHW, ``((1,), (2,))`` is NHWC (ConvNeXt's ``permute(0, 2, 3, 1)``), and
``((2, 3), (4, 5))`` is an NCHW map viewed as ``(N, C, H/r, r, W/r, r)`` on its way to a
space-to-depth (TResNet). ``None`` stands for the usual trailing axes. Following the layout keeps
the image geometry exact through NHWC round trips and space-to-depth written with views: a view
that moves the inner part of each image axis into the channels is a ``Conv(r, stride=r)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

Layout = tuple[tuple[int, ...], ...]


def default_layout(rank: int, nd: int) -> Layout | None:
    """The trailing-axes layout of a tensor of rank ``rank`` (None when it has no image axes)."""
    if rank < 2 + nd:
        return None
    return tuple((rank - nd + j,) for j in range(nd))


def normalise(layout: Layout | None, rank: int, nd: int) -> Layout | None:
    """``None`` for the default layout, else the layout itself."""
    return None if layout is None or layout == default_layout(rank, nd) else layout


def spatial_sizes(shape: Sequence[int], layout: Layout) -> tuple[int, ...]:
    """Each image axis's size: the product of its components' sizes."""
    return tuple(math.prod(int(shape[a]) for a in comps) for comps in layout)


def image_axes(layout: Layout) -> set[int]:
    """Every tensor axis that carries a part of an image axis."""
    return {a for comps in layout for a in comps}


def permute_layout(layout: Layout, perm: Sequence[int]) -> Layout:
    """The layout after ``permute(perm)`` (output axis ``i`` is input axis ``perm[i]``)."""
    where = {src: dst for dst, src in enumerate(perm)}
    return tuple(tuple(where[a] for a in comps) for comps in layout)


@dataclass(frozen=True)
class Reshaped:
    """What a view/reshape does to the image axes.

    Attributes:
        layout: the output layout (None: the default trailing axes).
        factors: per image axis, the size of the inner part moved into the channels (1: none);
            a factor above 1 makes the view a space-to-depth, ``Conv(f, stride=f)``.
        folded: True when image axes were merged with each other (``flatten(2)``): each value
            is still one pixel's, but which pixel is no longer an axis of the tensor.
    """

    layout: Layout | None
    factors: tuple[int, ...]
    folded: bool = False


class LayoutError(Exception):
    """A reshape that moves image axes in a way not followed (the op becomes opaque)."""


def _groups(a: Sequence[int], b: Sequence[int]) -> list[tuple[list[int], list[int]]]:
    """Pair runs of axes of ``a`` and ``b`` with equal products (how a view regroups axes)."""
    groups: list[tuple[list[int], list[int]]] = []
    i = j = 0
    try:
        while i < len(a) and j < len(b):
            ga, gb, pa, pb = [i], [j], a[i], b[j]
            i, j = i + 1, j + 1
            while pa != pb:
                if pa < pb:
                    ga.append(i)
                    pa *= a[i]
                    i += 1
                else:
                    gb.append(j)
                    pb *= b[j]
                    j += 1
            groups.append((ga, gb))
    except IndexError:
        raise LayoutError("the view's sizes do not regroup the axes") from None
    if any(v != 1 for v in a[i:]) or any(v != 1 for v in b[j:]) or not groups:
        raise LayoutError("the view's sizes do not regroup the axes")
    groups[-1][0].extend(range(i, len(a)))
    groups[-1][1].extend(range(j, len(b)))
    return groups


def reshape_layout(in_shape: Sequence[int], out_shape: Sequence[int], layout: Layout,
                   nd: int) -> Reshaped:
    """Follow the image axes through a view from ``in_shape`` to ``out_shape``.

    Raises:
        LayoutError: when the view mixes an image axis with other axes in a way not followed.
    """
    if type(in_shape) is tuple and type(out_shape) is tuple and type(layout) is tuple:
        return _reshape_layout_cached(in_shape, out_shape, layout, nd)  # a pure function
    return _reshape_layout(in_shape, out_shape, layout, nd)


@lru_cache(maxsize=4096)
def _reshape_layout_cached(in_shape: tuple[int, ...], out_shape: tuple[int, ...],
                           layout: Layout, nd: int) -> Reshaped:
    """:func:`_reshape_layout` remembered per (hashable) argument tuple: a network repeats
    its views (every channel shuffle of a stage); a refusal is not remembered."""
    return _reshape_layout(in_shape, out_shape, layout, nd)


def _reshape_layout(in_shape: Sequence[int], out_shape: Sequence[int], layout: Layout,
                    nd: int) -> Reshaped:
    owner = {a: (s, k) for s, comps in enumerate(layout) for k, a in enumerate(comps)}
    new: dict[int, list[int]] = {}  # input component -> the output axes that replace it
    factors = [1] * nd
    folded = False
    for ga, gb in _groups(list(in_shape), list(out_shape)):
        parts = [a for a in ga if a in owner and in_shape[a] > 1]
        if not parts:
            continue
        images = {owner[a][0] for a in parts}
        if len(ga) == 1 or (all(in_shape[a] == 1 for a in ga if a not in parts) and len(
                parts) == 1):
            new[parts[0]] = [b for b in gb if out_shape[b] > 1] or gb[-1:]  # split, or kept
            continue
        if len(gb) != 1:
            raise LayoutError("a view that regroups image axes several ways at once")
        inner = all(len(layout[owner[a][0]]) > 1 and layout[owner[a][0]][-1] == a
                    for a in parts) and len(images) == len(parts)
        if inner:  # the inner part of each image axis moves into the channels (space-to-depth)
            for a in parts:
                factors[owner[a][0]] *= int(in_shape[a])
                new[a] = []
            continue
        if len(images) > 1:
            if all(len(layout[s]) == 1 for s in images):
                folded = True  # e.g. flatten(2): H and W become one axis
                continue
            raise LayoutError("a view that merges parts of different image axes")
        s = images.pop()
        comps = [c for c in layout[s] if in_shape[c] > 1]
        if parts == comps and all(in_shape[a] == 1 for a in ga if a not in parts):
            new[parts[0]] = [gb[0]]  # outer and inner merged back: the image axis again
            new.update((c, []) for c in parts[1:])
        else:
            raise LayoutError("a view that mixes an image axis with other axes")
    if folded:
        return Reshaped(None, tuple(factors), folded=True)
    result: list[tuple[int, ...]] = []
    for axis_comps in layout:
        out = [b for c in axis_comps for b in new.get(c, [])]
        if not out:
            if math.prod(int(in_shape[c]) for c in axis_comps) // max(
                    1, factors[len(result)]) != 1:
                raise LayoutError("an image axis is no longer an axis of the tensor")
            return Reshaped(None, tuple(factors))  # a size-1 image axis: nothing to follow
        result.append(tuple(out))
    return Reshaped(normalise(tuple(result), len(out_shape), nd), tuple(factors))
