"""`atrous tile MODEL --input SIZE --tile SIZE`: the exact plan for tiled inference.

Prints the halo per side and axis, the alignment, the tiles, the overlap cost (the fraction of
extra input computed) and, with ``--max-memory``, the tile size that minimises that cost within
the memory bound.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from typing import Any

from ..errors import AtrousError
from ..units import add_unit_arguments
from ._common import add_command

__all__ = ["SCHEMA_VERSION", "add_parser", "parse_memory", "run"]

SCHEMA_VERSION = 2
"""``schema_version`` of ``atrous tile --json`` (``atrous/schemas/tile.schema.json``); 2 put
the physical lengths in a ``units`` record (:func:`atrous.units.units_dict`)."""

DESCRIPTION = """Plan an exact tiled run: for an input of SIZE cut into output tiles of TILE units,
the halo each tile needs on each side (from the receptive field's per-unit boxes), the alignment
every tile window starts at (the network's strides), the tiles, and the overlap cost. Networks
with a global operation (global pooling, image-pooling ASPP, attention, interpolation to the input
size) are refused, the layer named."""

EPILOG = """examples:
  atrous tile "3x3 s2 p1, 3x3 d2 p2, 3x3 d4 p4" --input 1024x1024 --tile 128
  atrous tile examples/dilated_resnet.py:build --input 1x3x2048x2048 --tile 64 --max-memory 2GiB
  atrous tile examples/wavenet.py:build --input 1x1x160000 --tile 16000 --sample-rate 16k"""


def parse_memory(text: str) -> int:
    """``"2GiB"``, ``"512MB"``, ``"1e9"`` -> bytes.

    >>> parse_memory("2GiB"), parse_memory("500MB"), parse_memory("1024")
    (2147483648, 500000000, 1024)
    """
    m = re.fullmatch(r"\s*([0-9.eE+]+)\s*([kKmMgGtT]i?[bB]?|[bB])?\s*", str(text))
    if not m:
        raise AtrousError(f"--max-memory must be a size like 2GiB or 500MB, got {text!r}")
    try:
        value = float(m.group(1))
    except ValueError:
        raise AtrousError(f"--max-memory must be a size like 2GiB or 500MB, got {text!r}") from None
    unit = (m.group(2) or "b").lower().rstrip("b")
    scale = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
             "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}[unit]
    if value <= 0:
        raise AtrousError(f"--max-memory must be positive, got {text!r}")
    if not math.isfinite(value * scale):
        raise AtrousError(f"--max-memory must be a finite size like 2GiB or 500MB, got {text!r}")
    return int(value * scale)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``atrous tile``."""
    p = add_command(
        sub, "tile", "exact halo and tiles for tiled inference",
        DESCRIPTION, EPILOG, run,
    )
    p.add_argument("model", metavar="MODEL",
                   help='a spec ("3x3 d2, 3x3 d4") or package.module:callable / file.py:callable')
    p.add_argument("--input", "-i", required=True, metavar="SIZE",
                   help="input size: spatial for a spec (1024x1024), full NxCxHxW for a model")
    p.add_argument("--tile", "-t", required=True, metavar="SIZE",
                   help="output tile size in output units (128 or 128x96)")
    p.add_argument("--max-memory", metavar="BYTES",
                   help="recommend the tile with the least overlap whose forward pass fits "
                        "(estimated; the stitched output comes on top; e.g. 2GiB; needs a "
                        "model)")
    add_unit_arguments(p)
    p.add_argument("--json", action="store_true", help="print the plan as JSON")


def _target(text: str) -> Any:
    if ":" in text:
        from .model import load_model

        return load_model(text)
    return text


def run(args: argparse.Namespace) -> int:
    from ..rf import receptive_field
    from ..tiling import tile_plan
    from ..units import Units, format_size, parse_size, units_dict

    target = _target(args.model)
    size = parse_size(args.input, "--input")
    tile = parse_size(args.tile, "--tile")
    units = Units.from_args(args)
    plan = tile_plan(target, size if len(size) > 1 else size[0],
                     tile if len(tile) > 1 else tile[0])
    max_memory = parse_memory(args.max_memory) if args.max_memory else None
    recommended = None
    if plan.ok and max_memory is not None:
        if plan.bytes_per_pixel is None:
            raise AtrousError("--max-memory needs a model (a spec has no channels to size)")
        recommended = plan.recommend(max_memory)
    rec_plan = tile_plan(target, size, recommended, check_sizes=False) if recommended else None
    phys: dict[str, Any] | None = None
    if units.active and plan.ok:
        rf = receptive_field(target, size if len(size) > 1 else None)
        phys = units_dict(rf, units, halo=plan.halo)
    if args.json:
        record = {"schema_version": SCHEMA_VERSION, **plan.to_dict()}
        if recommended is not None and rec_plan is not None:
            record["recommended"] = {"tile": list(recommended),
                                     "overlap_factor": round(rec_plan.overlap_factor, 6),
                                     "peak_bytes": rec_plan.peak_bytes,
                                     "max_memory": max_memory}
        if phys:
            record["units"] = phys
        print(json.dumps(record, indent=2))
        return 0 if plan.ok else 1
    print(plan)
    for line in phys["text"] if phys else []:
        print(line)
    if recommended is not None and rec_plan is not None:
        print(f"recommended tile under {format_size(max_memory or 0)}: "
              f"{'x'.join(map(str, recommended))} output units (overlap factor "
              f"{rec_plan.overlap_factor:.3f}, largest window "
              f"{'x'.join(map(str, rec_plan.max_window))}, about "
              f"{format_size(rec_plan.peak_bytes or 0)} for its forward pass, plus the output)")
    return 0 if plan.ok else 1
