"""atrous.analyze: rows against torch shapes and brute-force gridding, JSON, status, outputs."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
import torch.nn.functional as F

import atrous
from atrous.graph import Graph
from atrous.layers import Conv
from atrous.report import SCHEMA_VERSION, Report, analyze, hdc_rates


def brute_holes_1d(rates: list[int], kernel: int) -> int:
    """Holes of a 1-D stack: offsets in the RF box that no sum of tap offsets reaches."""
    reach = {sum(c) for c in itertools.product(*[[t * r for t in range(kernel)] for r in rates])}
    return (max(reach) + 1) - len(reach)


@pytest.mark.parametrize("rates", [[2, 2, 2], [1, 2, 3], [1, 2, 5], [1, 2, 9], [2, 4, 8]])
def test_rows_follow_the_stack(rates: list[int]) -> None:
    n = 40
    spec = ", ".join(f"3 d{r}" for r in rates)
    rep = analyze(spec, input_size=(n,))
    assert [r.name for r in rep.rows] == [f"conv{i}" for i in range(len(rates))]
    x = torch.zeros(1, 1, n)
    for i, row in enumerate(rep.rows):
        r = rates[i]
        x = F.conv1d(F.pad(x, (r, r)), torch.ones(1, 1, 3), dilation=r)
        assert row.output_size == (x.shape[-1],)
        assert row.rf.size == (1 + 2 * sum(rates[: i + 1]),)
        assert row.geometry == f"3 d{r}" if r != 1 else row.geometry == "3"
        assert row.gridding is not None
        assert row.gridding.holes == brute_holes_1d(rates[: i + 1], 3)
    assert rep.hdc is not None and list(rep.hdc.rates) == rates
    assert rep.coverage.gridded == (brute_holes_1d(rates, 3) > 0)
    assert rep.hdc.gridding_free == (not rep.coverage.gridded)
    assert rep.status == "complete" and not rep.diagnostics


def test_json_round_trip_and_schema() -> None:
    rep = analyze("3x3 d2, 3x3 d2, 3x3 d2", input_size=(32, 32))
    data = json.loads(rep.to_json())
    assert data == json.loads(json.dumps(rep.to_dict()))
    assert data["schema_version"] == SCHEMA_VERSION == Report.schema_version
    for key in ("target", "spec", "ndim", "input_size", "status", "rf", "coverage", "outputs",
                "rows", "layer_gridding", "hdc", "findings", "diagnostics", "notes"):
        assert key in data
    assert data["rf"]["size"] == [13, 13]
    assert data["coverage"]["holes"] == 13 * 13 - 7 * 7
    assert len(data["coverage"]["counts"]) == 13
    assert "counts" not in json.loads(rep.to_json(counts=False))["coverage"]
    row = data["rows"][0]
    assert row["rf_size"] == [5, 5] and row["output_size"] == [32, 32] and row["gridded"]
    assert [f["code"] for f in data["findings"]] == [f.code for f in rep.findings]
    start = next(f for f in data["findings"] if f["code"] == "gridding-start")
    assert start["node"] == "conv0" and start["data"]["holes"] == 5 * 5 - 3 * 3
    assert start["severity"] == "warning" and start["label"] == "Gridding starts at"


def test_partial_status_names_the_node() -> None:
    rep = analyze("3x3, opaque:roll, 3x3")
    assert rep.status == "partial"
    assert any("opaque0" in d and "roll" in d for d in rep.diagnostics)
    assert rep.to_dict()["status"] == "partial"
    assert rep.outputs[0].coverage_error is not None


def test_misaligned_centres_are_a_note_different_strides_are_partial() -> None:
    # a causal residual block: the shortcut sees the current sample, the conv the past
    rep = analyze("1d: res(2 p1:0 d1, 2 p2:0 d2)")
    assert rep.status == "complete" and not rep.diagnostics
    align = [f for f in rep.findings if f.code == "misaligned-merge"]
    assert len(align) == 1 and align[0].ok is None and align[0].node == "res0.add"
    # the numbers behind it: the two paths' centres, as the inputs' receptive fields give them
    rfs = atrous.receptive_fields(rep.graph)
    centres = sorted({rfs[i].start[0] for i in rep.graph["res0.add"].inputs})
    assert len(centres) == 2 and align[0].data["items"]["res0.add"]["centres"] == [centres]
    assert "centres differ" in align[0].message
    strided = analyze("1d: add(3 s2 p1 | 1 s3)")
    assert strided.status == "partial"
    codes = [f.code for f in strided.findings]
    assert "merge-strides" in codes and "misaligned-merge" not in codes
    assert [v.ok for v in strided.verdicts() if v.label == "Alignment"] == [False]


def test_global_without_size_is_partial_with_size_complete() -> None:
    aspp = "par(1x1 | 3x3 d6 | 3x3 d12 | gpool)"
    assert analyze(aspp).status == "partial"
    rep = analyze(aspp, input_size=(33, 33))
    assert rep.status == "complete" and rep.rf.is_global and not rep.coverage.gridded
    assert rep.hdc is None


def test_one_result_per_output() -> None:
    g = Graph(1)
    a = g.add(Conv(3, padding=2, dilation=2, ndim=1))
    b = g.add(Conv(3, padding=1, ndim=1), a)
    g.set_outputs(a, b)
    rep = analyze(g)
    assert [o.name for o in rep.outputs] == [a, b]
    assert [o.rf.size for o in rep.outputs] == [(5,), (7,)]
    assert [o.coverage.holes for o in rep.outputs] == [2, 0]
    assert rep.spec is None  # several outputs: no spec text


def test_hdc_only_for_stride_one_stacks() -> None:
    assert hdc_rates(atrous.parse("3x3 d1, bn, relu, 3x3 d2")) == ([1, 2], 3)
    assert hdc_rates(atrous.parse("3x3 d1, 5x5 d2")) is None
    assert hdc_rates(atrous.parse("3x3 s2, 3x3")) is None
    assert hdc_rates(atrous.parse("3x3 d1x2")) is None
    assert hdc_rates(atrous.parse("res(3x3, 3x3)")) is None
    assert analyze("3x3 d2, 3x3 d3").hdc is not None


def test_rule_vs_exact_disagreement_in_words() -> None:
    rep = analyze("3x3 d2, 3x3 d3")
    words = {v.label: v for v in rep.verdicts()}
    assert words["HDC rule as stated"].ok is True
    assert words["Exact answer"].ok is False
    assert words["Rule vs exact"].ok is False
    by_code = {f.code: f for f in rep.findings}
    assert by_code["hdc-rule"].severity == "ok" and by_code["hdc-vs-exact"].severity == "warning"


def test_module_rows_carry_meta() -> None:
    pytest.importorskip("atrous.fx")
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=2, dilation=2), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, padding=4, dilation=4),
    )
    rep = analyze(model, input_size=(1, 3, 32, 32))
    first = rep.rows[0].to_dict()
    assert first["module"] == "0" and first["params"] == 3 * 8 * 9 + 8
    assert first["shape"] == [1, 8, 32, 32]
    assert rep.rf.size == (1 + 2 * 2 + 2 * 4,) * 2
    assert rep.input_size == (32, 32)
    assert [r.output_size for r in rep.rows] == [(32, 32)] * 3


def test_repr_html_uses_the_html_renderer() -> None:
    pytest.importorskip("atrous.render.html")
    html = analyze("3x3 d2, 3x3 d2")._repr_html_()
    assert "<" in html and "3x3 d2" in html


def test_gridding_auto_default_follows_the_node_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """analyze() defaults to gridding="auto", as ``atrous model``: per-layer gridding only up to
    GRIDDING_AUTO_NODES nodes (a coverage map per node)."""
    import atrous.report as report

    spec = ", ".join(["3x3 d2"] * 4)
    assert len(analyze(spec, input_size=(24, 24)).layer_gridding) == 4
    monkeypatch.setattr(report, "GRIDDING_AUTO_NODES", 3)
    assert analyze(spec, input_size=(24, 24)).layer_gridding == []
    assert len(analyze(spec, input_size=(24, 24), gridding=True).layer_gridding) == 4
    with pytest.raises(atrous.AtrousError, match="gridding must be True, False or 'auto'"):
        analyze(spec, gridding="on")  # type: ignore[arg-type]


def test_model_notes_reach_the_report_in_graph_order() -> None:
    pytest.importorskip("atrous.fx")
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"), torch.nn.GroupNorm(2, 4),
        torch.nn.Conv2d(4, 4, 3, padding=1),
    )
    rep = analyze(model, input_size=(1, 3, 16, 16))
    assert rep.status == "complete" and not rep.diagnostics
    remarks = [f for f in rep.findings if f.code == "model-note"]
    assert [f.node for f in remarks] == ["0", "1"]
    assert "'circular' padding" in remarks[0].message and "GroupNorm" in remarks[1].message
    assert rep.to_dict()["notes"] == rep.notes == [f.message for f in remarks]
    # a WaveNet's misaligned merges are one grouped finding naming every merge in graph order
    from models_for_tests import WaveNet

    from atrous.rf import receptive_field

    wavenet = WaveNet(2, 5)
    rep = analyze(wavenet, input_size=(1, 1, 64), gridding=False)
    order = [n.name for n in rep.graph.topological()]
    grouped = [f for f in rep.findings if f.code == "misaligned-merge"]
    assert len(grouped) == 1 and grouped[0].node is None
    nodes = grouped[0].data["nodes"]
    assert len(nodes) >= 5 and nodes == sorted(nodes, key=order.index)
    raw = receptive_field(rep.graph, input_size=(1, 1, 64)).notes  # the rf's own sentences
    assert sorted({n.split(":")[0] for n in raw}) == sorted(nodes)
    assert f"{len(nodes)} merge(s)" in grouped[0].message


def test_sizes_the_network_cannot_take_are_refused() -> None:
    with pytest.raises(atrous.AtrousError, match=r"gets different sizes \[\(4, 4\), \(8, 8\)\]"):
        analyze("res(3x3 s2, 3x3)", input_size=(8, 8))
    # without a size the merge of strides 1 and 2 is partial, counted once (not per axis)
    rep = analyze("res(3x3 s2, 3x3)")
    assert rep.status == "partial"
    align = [f for f in rep.findings if f.label == "Alignment"]
    assert [(f.code, f.data["count"]) for f in align] == [("merge-strides", 1)]


def test_periodic_fields_report_the_mean_centre() -> None:
    rep = analyze("1d: 3 s2, tconv 4 s2 p1")
    text = next(v.value for v in rep.verdicts() if v.label == "Receptive field")
    assert "the units' mean centre on input pixel -0.5" in text
    # unit u's centre minus u * stride, averaged over the period of 2: (-1 - 0 + 1 - 1) / 2
    shifted = [(lo + hi) / 2 - u for u, ((lo, hi),) in enumerate(rep.rf.box(u) for u in range(2))]
    assert rep.rf.axes[0].period == 2 and sum(shifted) / 2 == -0.5


def test_a_global_output_of_a_large_input_defers_its_whole_input_map() -> None:
    """analyze() costs the same at any input size: a global output's map (the whole input) is
    built on first access; the verdict is that of the last local map's centre unit."""
    from atrous.report import DEFER_CELLS

    spec = "3x3 s2 p1, 3x3 d2 p2, gpool"
    small = analyze(spec, input_size=(64, 64))
    assert DEFER_CELLS >= 64 * 64 and not small.outputs[0].deferred
    rep = analyze(spec, input_size=(512, 512))
    out = rep.outputs[0]
    assert rep.status == "complete" and out.deferred
    assert rep.to_dict()["coverage"] is None and out.deferred  # JSON does not build it either
    grid = next(f for f in rep.findings if f.code == "gridding")
    assert grid.data["node"] == "conv1" and "last local map" in grid.message
    # the local verdict is coverage() of that node's centre unit, the lazy map the output's own
    ref = atrous.coverage(spec, input_size=(512, 512), node="conv1")
    assert out.local.holes == ref.holes and grid.data["holes"] == ref.holes
    assert (out.coverage.counts == atrous.coverage(spec, input_size=(512, 512)).counts).all()
    assert not out.deferred


def test_rows_carry_the_typed_per_layer_gridding() -> None:
    """Report.layer_gridding is layer_gridding()'s LayerGridding rows; each row's gridding is
    its node's, and an unavailable one (an opaque node) shows as nulls in the row dict."""
    spec = "3x3 d2, 3x3 d2, opaque:roll, 3x3"
    rep = analyze(spec, input_size=(32, 32))
    ref = atrous.layer_gridding(spec, input_size=(32, 32))
    assert rep.layer_gridding == ref
    assert all(isinstance(g, atrous.LayerGridding) for g in rep.layer_gridding)
    assert isinstance(rep.coverage, atrous.Coverage) or rep.coverage is None
    for row, g in zip(rep.rows, ref):
        assert row.gridding == g and row.name == g.node
        d = row.to_dict()
        if g.available:
            assert (d["holes"], d["gridded"], d["fraction"]) == (g.holes, g.gridded, g.fraction)
        else:
            assert d["holes"] is d["gridded"] is d["fraction"] is d["uniformity"] is None
    assert [g.available for g in ref] == [True, True, False, False]
    assert ref[1].gridded and ref[1].holes > 0
