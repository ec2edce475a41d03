"""Analysis figures: what is drawn must equal the analysis, checked against brute force.

The coverage reference is seed 001's own per-pixel loop (``dilated_conv_all_map``), written out
here; the receptive-field boxes are checked against an autograd impulse response.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import atrous
from atrous._coverage import layer_gridding
from atrous.errors import AtrousError
from atrous.render import figures as F
from atrous.render.style import PALETTE, ROLE, text_color


def seed_map(rates: list[int], k: int = 3) -> np.ndarray:
    """Seed 001's loop: spread a single 1 back through the layers, pixel by pixel."""
    size = 2 * sum(r * (k - 1) // 2 for r in rates) + 1 + 2
    m = np.zeros((size, size), dtype=np.int64)
    c = size // 2
    m[c, c] = 1
    for r in rates[::-1]:
        new = np.zeros_like(m)
        for i in range(size):
            for j in range(size):
                if m[i, j]:
                    top = (i - (k - 1) // 2 * r, j - (k - 1) // 2 * r)
                    for a in range(k):
                        for b in range(k):
                            new[top[0] + a * r, top[1] + b * r] += m[i, j]
        m = new
    rows, cols = np.nonzero(m)
    return m[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def _labels(ax) -> list[tuple[int, int, str, str]]:  # type: ignore[no-untyped-def]
    """The (row, col, text, colour) labels drawn in the cells (one glyph collection)."""
    found = [c.atrous_labels for c in ax.collections if hasattr(c, "atrous_labels")]
    assert len(found) <= 1
    labels = found[0] if found else []
    coll = next((c for c in ax.collections if hasattr(c, "atrous_labels")), None)
    if coll is not None:  # what is drawn: one glyph path per label, at the cell centre
        assert len(coll.get_paths()) == len(labels)
        assert [tuple(o) for o in coll.get_offsets()] == [(x, y) for y, x, _, _ in labels]
    return labels


def _cell_texts(ax) -> dict[tuple[int, int], str]:  # type: ignore[no-untyped-def]
    return {(y, x): text for y, x, text, _ in _labels(ax)}


def _hatched(ax) -> int:  # type: ignore[no-untyped-def]
    return sum(len(c.get_paths()) for c in ax.collections if c.get_hatch())


@pytest.mark.parametrize("rates", [[2, 2, 2], [1, 2, 3], [1, 2, 5], [1, 2, 9]])
def test_coverage_figure_shows_the_seed_counts(rates: list[int]) -> None:
    expected = seed_map(rates)
    cov = atrous.coverage(atrous.stack(rates))
    fig = F.coverage_figure(cov)
    ax = fig.axes[0]
    shown = np.ma.filled(ax.images[0].get_array(), 0)
    assert np.array_equal(shown, expected)
    texts = _cell_texts(ax)
    assert texts == {(y, x): str(int(expected[y, x])) for y in range(expected.shape[0])
                     for x in range(expected.shape[1])}
    holes = int((expected == 0).sum())
    assert _hatched(ax) == holes
    title = ax.get_title()
    assert (f"{holes} holes" in title) == (holes > 0)
    assert f"RF {expected.shape[0]}x{expected.shape[1]}" in title


def test_cell_text_colour_reads_on_its_background() -> None:
    fig = F.coverage_figure(seed_map([2, 2, 2]))
    ax = fig.axes[0]
    image = ax.images[0]
    cmap, norm = image.get_cmap(), image.norm
    data = np.ma.filled(image.get_array(), 0)
    labels = _labels(ax)
    assert len(labels) == data.size
    for y, x, _, color in labels:
        v = data[y, x]
        assert color == (PALETTE["black"] if v == 0 else text_color(cmap(norm(v))))


def _span(ax) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """The shaded RF box of a 1-D figure, ``(first, last)`` input coordinate, checked against
    the drawn rectangle's x extent."""
    (span,) = [p for p in ax.patches if hasattr(p, "atrous_box")]
    first, last = span.atrous_box
    assert span.get_x() == pytest.approx(first - 0.5)
    assert span.get_x() + span.get_width() == pytest.approx(last + 0.5)
    lo, hi = ax.get_xlim()
    assert lo < first - 0.5 and hi > last + 0.5  # the whole box is on the axes
    return int(first), int(last)


def _stairs(ax) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    (steps,) = [p for p in ax.patches if type(p).__name__ == "StepPatch"]
    values, edges, _ = steps.get_data()
    return np.asarray(values), np.asarray(edges)


def test_coverage_figure_1d_3d_and_huge_counts() -> None:
    one = atrous.coverage(atrous.stack([2, 2, 2], ndim=1))
    fig = F.coverage_figure(one)
    ax = fig.axes[0]
    assert not ax.images  # a step plot, not a one-pixel-high strip
    values, edges = _stairs(ax)
    assert np.array_equal(values, one.counts)
    n, (off,) = one.counts.size, one.offset
    assert np.array_equal(edges, off - 0.5 + np.arange(n + 1))
    assert _span(ax) == (off, off + n - 1)
    three = atrous.coverage(atrous.stack([1, 2], ndim=3))
    fig3 = F.coverage_figure(three)
    mid = three.counts.shape[0] // 2
    assert np.array_equal(np.ma.filled(fig3.axes[0].images[0].get_array(), 0),
                          three.counts[mid])
    assert "centre slice" in fig3.axes[0].get_title()
    big = np.array([[10**30, 0, 10**30]], dtype=object)
    texts = [text for _, _, text, _ in _labels(F.coverage_figure(big).axes[0])]
    assert texts == ["1.0e30", "0", "1.0e30"]


@settings(max_examples=6)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=3))
def test_coverage_figure_matches_seed_loop_for_random_schedules(rates: list[int]) -> None:
    expected = seed_map(rates)
    fig = F.coverage_figure(atrous.coverage(atrous.stack(rates)), annotate=False)
    assert np.array_equal(np.ma.filled(fig.axes[0].images[0].get_array(), 0), expected)


def test_compare_figure_shares_one_scale() -> None:
    schedules = {"[2,2,2]": [2, 2, 2], "[1,2,3]": [1, 2, 3]}
    fig = F.compare_figure({k: atrous.coverage(atrous.stack(r)) for k, r in schedules.items()})
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2
    assert len({(im.norm.vmin, im.norm.vmax) for im in images}) == 1
    for im, rates in zip(images, schedules.values()):
        assert np.array_equal(np.ma.filled(im.get_array(), 0), seed_map(rates))
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert "120 holes" in titles[0] and "no holes" in titles[1]


def _first_gridded_prefix(rates: list[int], k: int = 3) -> int | None:
    for n in range(1, len(rates) + 1):
        m = seed_map(rates[:n], k)
        if (m == 0).any():
            return n - 1
    return None


@pytest.mark.parametrize("rates", [[1, 2, 2, 2, 4], [2, 2, 2], [1, 2, 5]])
def test_gridding_strip_bars_are_the_per_layer_coverage(rates: list[int]) -> None:
    rows = layer_gridding(atrous.stack(rates))
    fig = F.gridding_strip(rows)
    ax = fig.axes[0]
    bars = list(ax.containers[0])  # the bars (not the shaded gridded stretch)
    assert len(bars) == len(rates)
    for i, bar in enumerate(bars):
        m = seed_map(rates[: i + 1])
        assert bar.get_height() == pytest.approx((m != 0).sum() / m.size)
        assert bool(bar.get_hatch()) == bool((m == 0).any())
    first = _first_gridded_prefix(rates)
    if first is None:
        assert ax.get_title().endswith("no layer grids")
    else:
        assert ax.get_title().endswith(f"holes from conv{first} on")


def test_rf_box_is_the_impulse_response_support() -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.Conv2d(1, 1, 3, padding=2,
                                                                           dilation=2))
    for m in net:
        nn.init.constant_(m.weight, 1.0)
        nn.init.zeros_(m.bias)
    net = net.double()
    rf = atrous.receptive_field("3x3 s2 p1, 3x3 d2 p2")
    unit = (4, 5)
    fig = F.rf_box_figure(rf, input_size=(24, 24), units=[unit])
    box = fig.axes[0].patches[0]
    x = torch.zeros(1, 1, 24, 24, dtype=torch.float64, requires_grad=True)
    net(x)[0, 0, unit[0], unit[1]].backward()
    rows, cols = np.nonzero(x.grad[0, 0].numpy())
    assert box.get_x() == pytest.approx(cols.min() - 0.5)
    assert box.get_y() == pytest.approx(rows.min() - 0.5)
    assert box.get_width() == pytest.approx(cols.max() - cols.min() + 1)
    assert box.get_height() == pytest.approx(rows.max() - rows.min() + 1)


def test_erf_figure_draws_the_theoretical_box() -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    net = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=r, dilation=r, bias=False)
                          for r in (1, 2, 5)])
    res = atrous.erf(net, (1, 1, 31, 31), samples=2, progress=False)
    fig = res.figure()
    ax = fig.axes[0]
    box = next(p for p in ax.patches if p.get_edgecolor()[:3] == pytest.approx(
        tuple(int(ROLE["box"][i:i + 2], 16) / 255 for i in (1, 3, 5))))
    (ylo, yhi), (xlo, xhi) = res.rf.box(res.unit)
    assert (box.get_x(), box.get_y()) == (xlo - 0.5, ylo - 0.5)
    assert box.get_width() == xhi - xlo + 1 == 17
    assert box.get_height() == yhi - ylo + 1 == 17
    assert f"{res.fraction95:.0%}" in ax.get_title()
    shown = ax.images[0].get_array()
    assert np.allclose(shown, res.map / res.map.max())


def test_save_figure_is_atomic_and_checks_the_format(tmp_path: Path) -> None:
    fig = F.coverage_figure(seed_map([1, 2]))
    png = F.save_figure(fig, tmp_path / "a.png")
    svg = F.save_figure(fig, tmp_path / "a.svg")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert svg.read_text().lstrip().startswith("<?xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a.svg"]
    with pytest.raises(AtrousError, match="figure format"):
        F.save_figure(fig, tmp_path / "a.gifx")
    with pytest.raises(AtrousError, match="non-empty"):
        F.coverage_figure(np.zeros((0, 0)))


def test_renderers_import_lazily() -> None:
    code = (
        "import sys, atrous.render.figures, atrous.render.draw, atrous.render.html, "
        "atrous.render.style\n"
        "print(','.join(m for m in ('matplotlib', 'torch', 'jinja2') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def test_render_public_names_are_pinned() -> None:
    import importlib

    import atrous.render as R

    pinned = ["Drawing", "Frame", "Geometry", "animate", "compare_figure", "coverage_figure",
              "coverage_heatmap", "erf_figure", "frames", "geometry", "gridding_strip",
              "page_html", "pareto_figure", "render_compare", "render_model", "render_report",
              "report_html",
              "rf_box_figure", "save_figure", "write_html"]
    assert sorted(R._EXPORTS) == pinned
    for name in pinned:
        module = importlib.import_module(f"atrous.render.{R._EXPORTS[name]}")
        assert getattr(R, name) is getattr(module, name) and name in module.__all__


def _impulse_support_1d(net, length: int, unit: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """First and last input position whose gradient reaches output ``unit`` (autograd)."""
    import torch

    x = torch.zeros(1, 1, length, dtype=torch.float64, requires_grad=True)
    net(x)[0, 0, unit].backward()
    (nz,) = np.nonzero(x.grad[0, 0].numpy())
    return int(nz.min()), int(nz.max())


def _causal_net(rates: tuple[int, ...] = (1, 2, 4)):  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    nn = torch.nn
    net = nn.Sequential(*[m for d in rates for m in (
        nn.ConstantPad1d((2 * d, 0), 0.0), nn.Conv1d(1, 1, 3, dilation=d, bias=False))])
    for m in net:
        if isinstance(m, nn.Conv1d):
            nn.init.constant_(m.weight, 1.0)
    return net.double()


def test_1d_coverage_of_a_causal_net_is_in_input_coordinates() -> None:
    net = _causal_net()
    rep = atrous.analyze(net, (1, 1, 32))
    cov = rep.coverage
    fig = F.coverage_figure(rep)  # a Report works as well as its Coverage
    ax = fig.axes[0]
    lo, hi = _impulse_support_1d(net, 32, cov.unit[0])
    # the causal field ends at the unit itself: the box is unit-(RF-1)..unit, not centred
    assert (lo, hi) == (cov.unit[0] - (cov.counts.size - 1), cov.unit[0])
    assert _span(ax) == (lo, hi) == (cov.offset[0], cov.offset[0] + cov.counts.size - 1)
    values, edges = _stairs(ax)
    assert np.array_equal(values, cov.counts)
    assert edges[0] == lo - 0.5 and edges[-1] == hi + 0.5
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == str(lo) and labels[-1] == str(hi)
    assert f"unit {cov.unit[0]}" in ax.get_xlabel()


def test_1d_erf_figure_shades_the_theoretical_box() -> None:
    net = _causal_net((1, 2, 4, 8))
    res = atrous.erf(net, (1, 1, 64), samples=1, progress=False)
    fig = res.figure()
    ax = fig.axes[0]
    assert not ax.images
    first, last = _span(ax)
    assert (first, last) == _impulse_support_1d(net, 64, res.unit[0])
    ((blo, bhi),) = res.rf.box(res.unit)
    assert (first, last) == (blo, bhi)
    values, edges = _stairs(ax)
    assert np.allclose(values, res.map / res.map.max())
    assert np.array_equal(edges, np.arange(65) - 0.5)  # input coordinates 0..63
    # the legend sits right of the axes, clear of the ticks and the curve
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.x0 >= ax.get_window_extent(renderer).x1


def test_figures_accept_a_report() -> None:
    a = atrous.analyze("3x3 d2, 3x3 d2, 3x3 d2")
    b = atrous.analyze("3x3 d1, 3x3 d2, 3x3 d3")
    fig = F.coverage_figure(a)
    assert np.array_equal(np.ma.filled(fig.axes[0].images[0].get_array(), 0), a.coverage.counts)
    assert np.array_equal(a.coverage.counts, seed_map([2, 2, 2]))
    bars = list(F.gridding_strip(a).axes[0].containers[0])
    assert [bar.get_height() for bar in bars] == pytest.approx(
        [g.fraction for g in a.layer_gridding])
    cmp = F.compare_figure([a, b])
    shown = [np.ma.filled(ax.images[0].get_array(), 0) for ax in cmp.axes if ax.images]
    assert np.array_equal(shown[0], seed_map([2, 2, 2]))
    assert np.array_equal(shown[1], seed_map([1, 2, 3]))
    assert [ax.get_title().splitlines()[0] for ax in cmp.axes if ax.images] == [a.target, b.target]
    sized = atrous.analyze("3x3 d2, 3x3 d2", (24, 24))
    assert len(F.rf_box_figure(sized).axes[0].patches) == 1  # input size from the report
    unit = (10, 10)
    box = F.rf_box_figure(sized, units=[unit]).axes[0].patches[0]
    (ylo, yhi), (xlo, xhi) = sized.rf.box(unit)
    assert (box.get_x(), box.get_y()) == (xlo - 0.5, ylo - 0.5)
    assert (box.get_width(), box.get_height()) == (xhi - xlo + 1, yhi - ylo + 1)
    two = atrous.coverage(atrous.stack([1, 2]), input_size=(32, 32))
    ax = F.coverage_figure(two).axes[0]  # 2-D ticks: input coordinates from the offset
    assert ax.get_xticklabels()[0].get_text() == str(two.offset[1])
    assert ax.get_yticklabels()[-1].get_text() == str(
        two.offset[0] + two.counts.shape[0] - 1)


def test_a_report_without_coverage_is_refused_by_name() -> None:
    import dataclasses

    from atrous.report import OutputResult

    rep = atrous.analyze("3x3 d2, 3x3 d2")
    out = OutputResult(rep.outputs[0].name, rep.rf, None,
                       coverage_error="opaque op at node 'mystery'")
    rep = dataclasses.replace(rep, outputs=[out])
    with pytest.raises(AtrousError, match="no coverage map: opaque op at node 'mystery'"):
        F.coverage_figure(rep)


def test_huge_map_is_drawn_in_blocks_that_keep_every_hole() -> None:
    side = F.DRAW_MAX * 2 + 5
    counts = np.ones((side, side), dtype=np.int64)
    counts[side // 2, 7] = 0  # one hole
    fig = F.coverage_figure(counts, annotate=False)
    ax = fig.axes[0]
    image = ax.images[0]
    block = -(-side // F.DRAW_MAX)
    shown = image.get_array()
    assert shown.shape == (-(-side // block),) * 2
    assert int(np.ma.count_masked(shown)) == 1  # the hole's block is a hole
    assert np.ma.getmaskarray(shown)[side // 2 // block, 7 // block]
    assert image.get_extent() == [-0.5, block * shown.shape[1] - 0.5,
                                  block * shown.shape[0] - 0.5, -0.5]
    assert ax.get_xlim() == (-0.5, side - 0.5)
    assert f"{block}x{block} blocks" in ax.get_title()


def test_pareto_ticks_are_whole_pixels() -> None:
    import re

    from atrous.render.pareto import pareto_figure

    fig = pareto_figure(atrous.pareto(kernel=3, max_rate=16, max_layers=4, counts=(1, 2)))
    fig.draw_without_rendering()
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    labels = [t.get_text() for t in ax.get_yticklabels() if lo <= t.get_position()[1] <= hi]
    assert labels and all(re.fullmatch(r"\d+", t) for t in labels), labels
    assert [int(t) for t in labels] == [
        round(t.get_position()[1]) for t in ax.get_yticklabels()
        if lo <= t.get_position()[1] <= hi]


@pytest.mark.parametrize(
    ("draw", "target"),
    [
        (lambda t: F.compare_figure([t]), [2, 2, 2]),
        (lambda t: F.compare_figure({"a": t}), "3x3 d2, 3x3 d2"),
        (lambda t: F.compare_figure([t]), atrous.stack([2, 2])),
        (F.gridding_strip, [2, 2, 2]),
        (F.gridding_strip, "3x3 d2, 3x3 d2"),
        (F.gridding_strip, atrous.stack([2, 2])),
    ],
)
def test_figures_draw_results_and_refuse_what_is_not_computed(
    draw: Callable[[Any], Any], target: object
) -> None:
    """A rate list, spec or Graph is not a result: the figure says what to run, runs nothing."""
    with pytest.raises(AtrousError, match=r"draws computed .*atrous\.stack\(rates\)"):
        draw(target)


def test_figures_run_no_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    """The figures draw what they are given: with the analyses made to fail, they still draw."""
    import atrous._coverage as C

    report = atrous.analyze("3x3 d2, 3x3 d2, 3x3 d2")
    rows, cov = atrous.layer_gridding(atrous.stack([2, 2, 2])), report.coverage

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a renderer ran an analysis")

    for name in ("coverage", "layer_gridding"):
        monkeypatch.setattr(atrous, name, boom)  # first: atrous' lazy lookup reads C's
        monkeypatch.setattr(C, name, boom)
    assert len(F.gridding_strip(rows).axes[0].containers[0]) == 3
    assert len(F.gridding_strip(report).axes[0].containers[0]) == 3
    assert len([ax for ax in F.compare_figure([report, cov]).axes if ax.images]) == 2
    assert F.coverage_figure(report).axes[0].images


def test_rf_box_figure_of_a_unit_that_reads_nothing_is_refused() -> None:
    """A transposed conv that only inserts zeros, then a stride-2 conv that reads only them:
    the unit reads no input pixel (its impulse response is empty), so there is no box to draw."""
    import torch

    rf = atrous.receptive_field("tconv 1x1 s2 p1, 1x1 s2", input_size=(64, 64))
    assert rf.empty
    x = torch.zeros(1, 1, 64, 64, requires_grad=True)
    up = torch.nn.functional.conv_transpose2d(x, torch.ones(1, 1, 1, 1), stride=2, padding=1)
    y = torch.nn.functional.conv2d(up, torch.ones(1, 1, 1, 1), stride=2)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    assert x.grad is not None and not x.grad.any()  # autograd agrees: nothing is read
    with pytest.raises(AtrousError, match="reads no input pixel"):
        F.rf_box_figure(rf, input_size=(64, 64))


def test_long_1d_map_drawn_as_a_per_bin_range() -> None:
    """A 1-D map with more steps than a figure has pixels is drawn as each bin's min..max (a
    2M-entry map used to take matplotlib minutes); the holes keep their exact count."""
    from matplotlib.patches import StepPatch

    from atrous.render._figures_coverage import STEP_MAX

    cov = atrous.coverage("3 d5000, 5 d1, 3 d2")
    counts = cov.counts
    assert counts.size > STEP_MAX
    fig = F.coverage_figure(cov)
    ax = fig.axes[0]
    steps = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert steps and all(len(p.get_data().values) <= STEP_MAX // 2 for p in steps)
    top = max(float(np.nanmax(p.get_data().values)) for p in steps)
    assert top == float(counts.max())
    holes = [line for line in ax.lines if hasattr(line, "atrous_holes")]
    assert holes[0].atrous_holes == int((counts == 0).sum())
    import matplotlib.pyplot as plt

    plt.close(fig)
