"""Figures a new user reads first: the per-layer gridding strip, the ERF box, the drawings'
legend and weights, names drawn literally (no TeX) in every figure."""

from __future__ import annotations

import io

import numpy as np
import pytest

import atrous
from atrous.render import draw as D
from atrous.render import figures as F

TEX = "$\\frac{a}{b$"  # invalid mathtext: matplotlib's parser raises on it unless drawn literally


def _png(fig: object) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")  # type: ignore[attr-defined]  # outside atrous' rc context
    return buf.getvalue()


def test_first_layer_gridding_is_marked_over_its_bar_not_on_the_axis() -> None:
    fig = F.gridding_strip(atrous.layer_gridding(atrous.stack([2, 2, 2])))
    ax = fig.axes[0]
    assert ax.get_title() == "per-layer gridding: holes from conv0 on"
    # no vertical line at x = -0.5 (it would sit on the y-axis); an arrow points at bar 0
    assert not [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [-0.5, -0.5]]
    arrows = [t for t in ax.texts if t.get_text() == "holes from here"]
    assert len(arrows) == 1 and arrows[0].xy[0] == 0


def test_many_layers_show_a_subset_of_names_and_no_bar_labels() -> None:
    rows = [dict(node=f"layer{i}", rf_size=(3 + 2 * i,), holes=0 if i < 50 else 4,
                 gridded=i >= 50, fraction=1.0 if i < 50 else 0.9) for i in range(92)]
    fig = F.gridding_strip(rows)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert 10 <= len(labels) <= 40 and "layer50" in labels  # the first gridded layer named
    assert not [t for t in ax.texts if t.get_text().endswith("%")]  # no per-bar percentages
    assert fig.get_size_inches()[0] <= 16.0


def test_erf_box_larger_than_the_input_is_drawn_clipped_and_the_title_says_of_what() -> None:
    g = np.exp(-((np.arange(41) - 20.0) ** 2)[:, None] / 20 - ((np.arange(41) - 20.0) ** 2) / 20)
    res = {"map": g, "rf": {"size": [61, 61], "is_global": False}, "fraction95": 0.4}
    fig = F.erf_figure(res)
    ax = fig.axes[0]
    assert ax.get_title() == ("effective RF (95% of the mass in 40% of the 41x41 part of the "
                              "61x61 box inside the input)")
    (rect,) = ax.patches
    assert (rect.get_x(), rect.get_y(), rect.get_width(), rect.get_height()) == (
        -0.5, -0.5, 41, 41)
    assert rect.get_linestyle() == "--"
    assert "clipped to the input" in ax.get_legend().get_texts()[0].get_text()
    # a box inside the input is drawn whole and solid
    fig = F.erf_figure({"map": g, "rf": {"size": [7, 7], "is_global": False},
                        "fraction95": 0.4})
    (rect,) = fig.axes[0].patches
    assert (rect.get_width(), rect.get_height(), rect.get_linestyle()) == (7, 7, "-")


def test_tex_in_names_is_drawn_literally_in_every_figure() -> None:
    rows = [dict(node=TEX, rf_size=(3, 3), holes=0, gridded=False, fraction=1.0),
            dict(node="b", rf_size=(7, 7), holes=24, gridded=True, fraction=0.5)]
    cov = atrous.coverage(atrous.stack([1, 2]))
    g = np.ones((9, 9))
    figs = [
        F.gridding_strip(rows),
        F.gridding_strip(rows, title=TEX),
        F.coverage_figure(cov, title=TEX),
        F.compare_figure({TEX: cov, "other": cov}),
        F.erf_figure({"map": g, "rf": {"size": [3, 3], "is_global": False}, "fraction95": 0.5},
                     title=TEX),
        F.rf_box_figure(atrous.receptive_field("3x3 d2"), input_size=(9, 9), title=TEX),
    ]
    for fig in figs:
        assert _png(fig)[:4] == b"\x89PNG"
        assert F.figure_png(fig)[:4] == b"\x89PNG"
    texts = [t.get_text() for t in figs[0].axes[0].get_xticklabels()]
    assert TEX in texts


@pytest.mark.parametrize("kind,kw,expected", [
    ("dilated", {"kernel": 3, "dilation": 2}, {"tap", "hole", "input", "output"}),
    ("transposed", {"kernel": 3, "stride": 2, "padding": 1, "output_padding": 1},
     {"tap", "inserted zero", "padding", "input", "output"}),
    ("conv", {"kernel": 3, "padding": 1}, {"tap", "padding", "input", "output"}),
])
def test_drawings_have_a_legend_for_what_the_cells_mean(kind: str, kw: dict[str, int],
                                                        expected: set[str]) -> None:
    d = D.draw(kind, 7 if kind != "transposed" else 3, step=1, **kw)
    (legend,) = d.figure.legends
    labels = [t.get_text().split(" (")[0] for t in legend.get_texts()]
    assert set(labels) == expected
    assert d.rgba().shape[2] == 4


def test_example_weights_are_never_zero() -> None:
    for seed in range(30):
        for g in (D.geometry("dilated", 7, kernel=3, dilation=2),
                  D.geometry("conv", (6, 5), kernel=(2, 3))):
            _, w = D.example_numbers(g, seed)
            assert w.min() >= 1 and w.max() <= 3
