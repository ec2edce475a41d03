"""The table of architectures checked in ``docs/models.md``, computed by atrous.

Each row traces a transcription of the architecture's geometry (``tests/data/model_zoo.py``;
torchvision is not a dependency) at the input size shown and prints the receptive field of the
row's output, its effective stride, the local field (global gates cut, for SE nets and ASPP) and
whether the analysis is complete. ``tests/test_fx_zoo.py`` checks every row against an autograd
impulse response and that the docs hold this script's output.

    python scripts/model_zoo_table.py           # print the table
    python scripts/model_zoo_table.py --write   # replace the table in docs/models.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "models.md"
BEGIN, END = "<!-- model-zoo:begin -->", "<!-- model-zoo:end -->"


def _fmt(rf: Any) -> tuple[str, str]:
    if rf.is_global:
        return "global", "-"
    size = "x".join(str(s) for s in rf.size)
    strides = {str(s) for s in rf.stride}
    return size, "x".join(str(s) for s in rf.stride) if len(strides) > 1 else strides.pop()


def row(name: str) -> dict[str, Any]:
    """One table row: the numbers atrous computes for the zoo entry ``name``."""
    from data.model_zoo import ZOO

    from atrous import receptive_field
    from atrous.fx import to_graph
    from atrous.graph import local_graph

    build, side, what = ZOO[name]
    shape = (1, 3, side, side)
    g = to_graph(build(), shape)
    rf = receptive_field(g, input_size=shape)
    local = receptive_field(local_graph(g, shape), input_size=shape) if rf.is_global else rf
    size, stride = _fmt(rf)
    lsize, lstride = _fmt(local)
    return {"model": name, "output": what, "input": f"{side}x{side}", "rf": size,
            "stride": stride, "local": f"{lsize} (stride {lstride})" if rf.is_global else "-",
            "status": "partial" if rf.partial or g.partial else "complete", "nodes": len(g)}


def table() -> str:
    from data.model_zoo import ZOO

    lines = ["| model | output | input | receptive field | stride | local field (gates cut) "
             "| nodes | status |", "|---|---|---|---|---|---|---|---|"]
    for name in ZOO:
        r = row(name)
        lines.append(f"| {r['model']} | {r['output']} | {r['input']} | {r['rf']} | "
                     f"{r['stride']} | {r['local']} | {r['nodes']} | {r['status']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/models.md")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    text = table()
    if not args.write:
        print(text, end="")
        return
    doc = DOC.read_text(encoding="utf-8")
    start, stop = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    DOC.write_text(doc[:start] + "\n" + text + doc[stop:], encoding="utf-8")
    print(f"wrote the table ({text.count(chr(10)) - 2} rows) to {DOC}")


if __name__ == "__main__":
    main()
