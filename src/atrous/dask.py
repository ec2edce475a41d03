"""Exact tiled inference on Dask arrays: :func:`map_model` (needs the ``atrous[dask]`` extra).

The same plan as :func:`atrous.tiled_forward`, as a Dask graph: each output tile is one task
that reads its input window (the tile's core, its exact halo, aligned and clipped at the border)
from the Dask array, runs the model on it and keeps its output units; the tiles are assembled
with ``dask.array.block``. The graph runs on Dask's local threaded scheduler by default and
unchanged on a ``dask.distributed`` cluster (``client.compute`` or ``.compute()`` with a client
active). This is how atrous scales past one machine: Dask is the engine.

    >>> import dask.array as da, torch, torch.nn as nn
    >>> net = nn.Conv2d(1, 2, 3, padding=2, dilation=2).eval()
    >>> x = da.random.default_rng(0).standard_normal((1, 1, 50, 40), chunks=(1, 1, 20, 20))
    >>> y = map_model(net, x.astype("float32"), 16)
    >>> y.shape, y.chunks[2]
    ((1, 2, 50, 40), (16, 16, 16, 2))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import dask.array as da
from dask.delayed import delayed

from .errors import AtrousError
from .tiling import Tile, TilePlan, tile_plan

__all__ = ["map_model"]

# dask.array's from_delayed and block carry no annotations; their results are Dask arrays
_from_delayed = cast("Callable[..., da.Array]", da.from_delayed)
_block = cast("Callable[..., da.Array]", da.block)


def _run_tile(model: Any, window: Any, tile: Tile, exact: bool) -> Any:
    import numpy as np
    import torch

    from .tiling import _index, _mask

    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(window))
        if not exact:  # an overridden halo: the pixels outside it are zeroed, as missing
            x = _mask(x, tile)
        y = model(x)
    if not isinstance(y, torch.Tensor):
        raise AtrousError(f"map_model needs a model returning one tensor, got "
                          f"{type(y).__name__}")
    # a copy of the kept units: a view would keep the whole tile output alive until assembly
    # (.contiguous() alone copies nothing when the view is contiguous, a 1-D crop's is)
    part = y[_index(tile.crop)]
    if part.untyped_storage().nbytes() > part.numel() * part.element_size():
        part = part.clone(memory_format=torch.contiguous_format)
    return part.contiguous().numpy()


def map_model(model: Any, array: Any, tile: Any, *, halo: Any = None,
              plan: TilePlan | None = None) -> da.Array:
    """Run ``model`` tile by tile on a Dask array; the result equals ``model(whole array)``.

    Args:
        model: an ``nn.Module`` in eval mode, returning one tensor.
        array: a ``dask.array.Array`` of shape ``(N, C, *spatial)`` (any chunks; its dtype
            should be the model's, e.g. float32).
        tile: output tile size per axis, in output units (see :func:`atrous.tile_plan`); the
            output's chunks are these tiles.
        halo: override the exact halo (to see that one pixel less is wrong).
        plan: a plan made beforehand for this model and shape.

    Returns:
        A lazy ``dask.array.Array`` with the model's output.

    Raises:
        AtrousError: when the model cannot be tiled exactly (the layer is named).
    """
    if not isinstance(array, da.Array):
        raise AtrousError(f"map_model needs a dask.array.Array, got {type(array).__name__}")
    if plan is None:
        plan = tile_plan(model, tuple(int(v) for v in array.shape), tile)
    plan.check()
    if halo is not None:
        plan = plan.with_halo(halo)
    assert plan.output_size is not None
    exact = plan._geometry is None or plan.halo == plan._geometry.halo
    lead = _output_lead(model, plan, array)
    grid: dict[tuple[int, ...], Any] = {}
    run = delayed(_run_tile, pure=False)
    for t in plan.tiles:
        cut: tuple[slice, ...] = (slice(None), slice(None))
        window = array[cut + tuple(slice(a, b) for a, b in t.input)]
        shape = (*lead, *(b - a for a, b in t.output))
        grid[t.index] = _from_delayed(run(model, window, t, exact), shape, dtype=array.dtype)
    return _block(_nest(grid, len(plan.input_size)))


def _output_lead(model: Any, plan: TilePlan, array: Any) -> tuple[int, int]:
    """``(N, C_out)`` of the output, from one cheap trace on fake tensors."""
    from .fx import to_graph

    small = tuple(b - a for a, b in plan.tiles[0].input)
    g = to_graph(model, (int(array.shape[0]), int(array.shape[1]), *small))
    shape = g[g.output].meta.get("shape")
    if not shape or len(shape) < 2:
        raise AtrousError("map_model cannot tell the model's output channels")
    return int(shape[0]), int(shape[1])


def _nest(grid: dict[tuple[int, ...], Any], ndim: int) -> Any:
    counts = [max(k[ax] for k in grid) + 1 for ax in range(ndim)]

    def build(prefix: tuple[int, ...]) -> Any:
        if len(prefix) == ndim:
            return grid[prefix]
        return [build((*prefix, i)) for i in range(counts[len(prefix)])]

    # the batch and channel axes are whole: wrap twice so block() joins spatial axes only
    return [[build(())]]
