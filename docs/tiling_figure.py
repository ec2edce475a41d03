"""Draw docs/img/tiling-tile.svg: one tile of a real plan, its halo, its window and kept region.

    python docs/tiling_figure.py
"""

from __future__ import annotations

from pathlib import Path

from atrous.tiling import tile_plan

SPEC = "3x3 s2 p1, 3x3 d2 p2, 3x3 d4 p4, tconv 2x2 s2"
SIZE = (72, 104)
TILE = 24
SCALE = 5


def rect(box: tuple[tuple[int, int], tuple[int, int]], fill: str, stroke: str,
         opacity: float = 1.0, dash: str = "") -> str:
    (y0, y1), (x0, x1) = box
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<rect x="{x0 * SCALE}" y="{y0 * SCALE}" width="{(x1 - x0) * SCALE}" '
            f'height="{(y1 - y0) * SCALE}" fill="{fill}" fill-opacity="{opacity}" '
            f'stroke="{stroke}" stroke-width="2"{extra}/>')


def main() -> None:
    plan = tile_plan(SPEC, SIZE, TILE)
    tile = next(t for t in plan.tiles if t.index == (1, 2))
    h, w = SIZE
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * SCALE + 430}" '
             f'height="{h * SCALE + 20}" font-family="sans-serif" font-size="13">',
             rect(((0, h), (0, w)), "#f4f4f4", "#888")]
    for t in plan.tiles:  # the output tiles' cores (output stride 1 here)
        parts.append(rect(t.output, "none", "#bbb", dash="3,3"))
    parts.append(rect(tile.input, "#9ecae1", "#3182bd", 0.35))
    parts.append(rect(tile.valid, "#fdd0a2", "#e6550d", 0.6))
    parts.append(rect(tile.output, "#a1d99b", "#31a354", 0.9))
    legend = [("#3182bd", f"window {tile.input}: aligned to {plan.alignment[0]} px"),
              ("#e6550d", f"halo: {plan.halo[0][0]} before / {plan.halo[0][1]} after"),
              ("#31a354", f"kept output {tile.output}"),
              ("#bbb", f"output tiles of {TILE}")]
    x0 = w * SCALE + 15
    for i, (colour, text) in enumerate(legend):
        y = 20 + 22 * i
        parts.append(f'<rect x="{x0}" y="{y - 11}" width="14" height="14" fill="{colour}"/>')
        parts.append(f'<text x="{x0 + 20}" y="{y}">{text}</text>')
    parts.append(f'<text x="{x0}" y="{20 + 22 * 5}">{SPEC}</text>')
    parts.append(f'<text x="{x0}" y="{20 + 22 * 6}">input {h}x{w}</text>')
    parts.append("</svg>")
    out = Path(__file__).with_name("img") / "tiling-tile.svg"
    out.write_text("\n".join(parts) + "\n", encoding="utf-8")
    print(f"wrote {out}: tile {tile.index}, halo {plan.halo}, window {tile.input}")


if __name__ == "__main__":
    main()
