"""The renderers' typed contract: results (or their JSON records) in, told apart by class.

A wrong input is refused with an AtrousError naming the parameter and what it takes; a stand-in
shaped like a result (the right attribute names on another class) is refused too, since the
renderers dispatch with ``isinstance``, never by sniffing attributes. A record draws what its
result draws. The renderers run no analysis: a Report's deferred whole-input map stays unbuilt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from fractions import Fraction
from types import SimpleNamespace as NS
from typing import Any

import numpy as np
import pytest

import atrous
from atrous._erf import ERFResult
from atrous.errors import AtrousError
from atrous.render import figures as F
from atrous.render.html import report_html, section_from_dict, section_from_report
from atrous.render.pareto import pareto_figure

SPEC = "3x3 d2, 3x3 d2, 3x3 d2"
GLOBAL = "3x3 s2 p1, 3x3 d2 p2, gpool"  # a global output: its map is the whole input


@pytest.mark.parametrize(
    ("draw", "value", "message"),
    [
        (F.coverage_figure, 5, r"coverage_figure: cov must be a Coverage .*a Report .*a coverage "
                               r"record .*an array of counts, got int"),
        (F.coverage_figure, NS(counts=np.ones((3, 3), int)), r"cov must be .*got SimpleNamespace"),
        (F.coverage_figure, {"offset": [0, 0]}, r"cov: a coverage record must carry its counts"),
        (F.compare_figure, 5, r"compare_figure draws computed coverage maps.*items is a int"),
        (lambda v: F.compare_figure([np.ones((3, 3), int), v]), "3x3 d2",
         r"Coverages .*Reports .*numpy arrays.*items\[1\] is a str"),
        (lambda v: F.compare_figure({"a": v}), NS(counts=np.ones((3, 3), int)),
         r"items\['a'\] is a SimpleNamespace"),
        (F.gridding_strip, 5, r"gridding_strip draws computed rows.*records .*Report.*"
                              r"target is a int"),
        (F.gridding_strip, [NS(node="a", fraction=1.0)], r"target is a list of SimpleNamespace"),
        (lambda v: F.rf_box_figure(v, input_size=(9, 9)), "3x3 d2",
         r"rf_box_figure: rf must be a ReceptiveField .*a Report .*receptive-field record "
         r".*got str"),
        (lambda v: F.rf_box_figure(v, input_size=(9, 9)),
         NS(size=(3, 3), stride=(1, 1), start=(0, 0), is_global=False),
         r"rf must be .*got SimpleNamespace"),
        (F.erf_figure, np.ones((9, 9)), r"erf_figure: result must be an ERFResult .*or its "
                                        r"record .*got ndarray"),
        (F.erf_figure, {"map": np.ones((9, 9)), "rf": "3x3"},
         r"result\['rf'\] must be a ReceptiveField .*got str"),
        (F.erf_figure, {"rf": {"size": [3, 3]}}, r"an ERF record needs its 'map'"),
        (pareto_figure, [1, 2], r"pareto_figure: frontier must be a ParetoFrontier .*got list"),
    ],
)
def test_a_wrong_input_is_refused_naming_the_parameter_and_the_accepted_types(
    draw: Callable[[Any], object], value: object, message: str
) -> None:
    with pytest.raises(AtrousError, match=message):
        draw(value)


def _image(fig: Any) -> np.ndarray:
    return np.asarray(np.ma.filled(fig.axes[0].images[0].get_array(), 0))


def test_a_coverage_record_draws_what_its_coverage_draws() -> None:
    cov = atrous.coverage(atrous.stack([1, 2]), input_size=(32, 32))
    for record in (cov.to_dict(), atrous.analyze(atrous.stack([1, 2]), (32, 32)).to_dict()[
            "coverage"]):
        a, b = F.coverage_figure(cov), F.coverage_figure(record)
        assert np.array_equal(_image(a), _image(b)) and np.array_equal(_image(b), cov.counts)
        assert a.axes[0].get_title() == b.axes[0].get_title()
        assert [t.get_text() for t in a.axes[0].get_xticklabels()] == [
            t.get_text() for t in b.axes[0].get_xticklabels()]  # input coordinates (offset)
    nested = F.coverage_figure(cov.counts.tolist())  # nested lists of counts: centre offsets
    assert np.array_equal(_image(nested), cov.counts)


def test_gridding_records_draw_what_the_rows_draw() -> None:
    rows = atrous.layer_gridding(atrous.stack([1, 2, 2, 4]))
    heights = [[b.get_height() for b in F.gridding_strip(t).axes[0].containers[0]]
               for t in (rows, [r.to_dict() for r in rows])]
    assert heights[0] == heights[1] == pytest.approx([r.fraction for r in rows])


@pytest.mark.parametrize("spec", ["3x3 s2 p1, 3x3 d2 p2", "tconv 3x3 s2, 3x3 d2"])
def test_an_rf_record_draws_the_box_of_its_field(spec: str) -> None:
    """A record's stride and start as JSON writes them (``"1/2"``) are read as fractions; the
    box is centred at ``start + u * stride`` with the field's size, which for these fields is
    the exact hull :meth:`ReceptiveField.box` gives."""
    rf = atrous.receptive_field(spec)
    record = rf.to_dict()
    if "tconv" in spec:
        assert "1/2" in record["stride"]
    unit = (6, 4)
    box = F.rf_box_figure(record, input_size=(24, 24), units=[unit]).axes[0].patches[0]
    centre = [Fraction(s) + u * Fraction(d) for s, u, d in zip(rf.start, unit, rf.stride)]
    assert box.get_x() == pytest.approx(float(centre[1]) - rf.size[1] / 2)
    assert box.get_y() == pytest.approx(float(centre[0]) - rf.size[0] / 2)
    assert (box.get_width(), box.get_height()) == (rf.size[1], rf.size[0])
    if "tconv" not in spec:  # the exact hull of a ReceptiveField is the same box here
        exact = F.rf_box_figure(rf, input_size=(24, 24), units=[unit]).axes[0].patches[0]
        assert exact.get_bbox().bounds == pytest.approx(box.get_bbox().bounds)


def test_an_erf_record_draws_what_its_result_draws() -> None:
    rf = atrous.receptive_field("3x3 d2, 3x3")
    unit = (7, 7)
    centre = tuple(float(s + u * d) for s, u, d in zip(rf.start, unit, rf.stride))
    g = np.exp(-((np.arange(15) - 7.0) ** 2)[:, None] / 8 - ((np.arange(15) - 7.0) ** 2) / 8)
    res = ERFResult(map=g, rf=rf, fraction95=0.5, unit=unit, center=centre, samples=1,
                    reinit=False)
    a, b = F.erf_figure(res), F.erf_figure(res.to_dict())
    assert a.axes[0].get_title() == b.axes[0].get_title() == (
        "effective RF (95% of the mass in 50% of the 7x7 box)")
    (ra,), (rb,) = a.axes[0].patches, b.axes[0].patches
    (ylo, yhi), (xlo, xhi) = rf.box(unit)
    assert (ra.get_x(), ra.get_y()) == (xlo - 0.5, ylo - 0.5)
    assert (ra.get_width(), ra.get_height()) == (xhi - xlo + 1, yhi - ylo + 1)
    assert rb.get_bbox().bounds == pytest.approx(ra.get_bbox().bounds)


def test_a_version_1_record_gets_the_verdicts_of_its_numbers() -> None:
    """A record without findings (schema version 1) shows the verdicts its rf, coverage and
    hdc give, then its own verdicts (label, value, ok), then the analysis status."""
    record = atrous.analyze(SPEC).to_dict(counts=False)
    record["schema_version"] = 1
    del record["findings"]
    record["verdicts"] = [{"label": "Extra", "value": "checked", "ok": True}]
    got = [(v["label"], v["state"]) for v in section_from_dict(record).verdicts]
    assert got == [("Receptive field", "info"), ("Effective stride", "info"),
                   ("Gridding (exact)", "bad"), ("RF box covered", "bad"),
                   ("Uniformity (min/max count)", "info"), ("HDC rule as stated", "bad"),
                   ("Extra", "good"), ("Analysis", "good")]


def test_the_html_of_a_record_shows_the_reports_findings_and_rows() -> None:
    rep = atrous.analyze(SPEC)
    a, b = section_from_report(rep, figures=False), section_from_dict(rep.to_dict())
    assert [v["value"] for v in a.verdicts] == [v["value"] for v in b.verdicts]
    assert a.rows == b.rows and a.columns == b.columns and a.hdc == b.hdc


def test_renderers_build_no_deferred_map_and_run_no_analysis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A global output's whole-input map is built on first access of ``report.coverage``; a
    figure or a page of the report does not access it (the caller does, e.g. atrous report)."""
    import atrous._coverage as C
    import atrous.report as R

    rep = atrous.analyze(GLOBAL, input_size=(512, 512))
    assert rep.outputs[0].deferred

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a renderer ran an analysis")

    for module, name in [(atrous, "coverage"), (C, "coverage"), (atrous, "layer_gridding"),
                         (C, "layer_gridding"), (atrous, "analyze"), (R, "analyze"),
                         (atrous, "receptive_field")]:
        monkeypatch.setattr(module, name, boom)
    with pytest.raises(AtrousError, match=r"has not built its coverage map.*report\.coverage"):
        F.coverage_figure(rep)
    section = section_from_report(rep)
    assert [f.alt for f in section.figures] == ["per-layer gridding bars"]  # no coverage map
    assert rep.outputs[0].deferred
    html = report_html(rep)
    assert "coverage heatmap" not in html and rep.outputs[0].deferred
    monkeypatch.undo()
    assert "coverage heatmap" in rep._repr_html_()  # Jupyter's caller builds it, as before
    assert not rep.outputs[0].deferred


def test_a_report_is_not_told_apart_by_its_attributes() -> None:
    """A copy of a Report's fields on another class is not a Report: refused, not drawn."""
    rep = atrous.analyze(SPEC)
    fields = {f.name: getattr(rep, f.name) for f in dataclasses.fields(rep)}
    stand_in = NS(**fields, rf=rep.rf, coverage=rep.coverage)
    with pytest.raises(AtrousError, match="got SimpleNamespace"):
        F.coverage_figure(stand_in)  # type: ignore[arg-type]
    with pytest.raises(AtrousError, match="target is a SimpleNamespace"):
        F.gridding_strip(stand_in)  # type: ignore[arg-type]
