"""GraphBuilder (the front-end-independent builder) and the completeness every Graph carries."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from atrous import Conv, Graph, Merge, Pointwise, Pool, receptive_field, receptive_fields
from atrous.builder import GraphBuilder
from atrous.errors import AtrousError
from atrous.fx import to_graph


def test_every_graph_has_completeness_and_provenance() -> None:
    g = Graph(1)
    assert (g.partial, g.method, g.diagnostics, g.notes, g.incomplete) == (False, "graph", [],
                                                                           [], "")
    g.add(Conv(3, ndim=1))
    assert not g.partial
    g.partial = True
    assert g.partial and g.incomplete
    g.partial = False
    assert not g.partial


def test_builder_keeps_layers_whose_size_matches_what_was_observed() -> None:
    b = GraphBuilder(2, (33, 33), name="net", method="onnx")
    c = b.add(Conv(3, stride=2, padding=1, ndim=2), ["input"], (17, 17), "conv", op="Conv")
    p = b.add(Pool("max", 2, ndim=2), [c], (8, 8), "pool")
    b.set_outputs([("out", p)])
    g = b.finish()
    assert not g.partial and g.method == "onnx" and g.name == "net"
    assert [n.layer.kind for n in g.layer_nodes()] == ["conv", "pool"]
    assert g.output_labels == {"pool": "out"}
    assert g["conv"].meta["target"] == "Conv" and g["pool"].meta["module"] == "pool"


def test_builder_turns_a_size_mismatch_into_an_opaque_node_with_a_diagnostic() -> None:
    b = GraphBuilder(1, (20,))
    c = b.add(Conv(5, ndim=1), ["input"], (20,), "conv", op="Conv1d")  # computed 16
    b.set_outputs([("", c)])
    g = b.finish()
    assert g.partial and g["conv"].layer.kind == "opaque"
    assert g.diagnostics == [
        "conv (Conv1d): the analytic output size (16,) disagrees with the observed size (20,); "
        "results that depend on it are partial"]


def test_builder_opaque_for_none_names_the_reason_and_joins_several_inputs() -> None:
    b = GraphBuilder(1, (10,))
    a = b.add(Conv(3, padding=1, ndim=1), ["input"], (10,), "a")
    o = b.add(None, ["input", a], (10,), "mystery", op="roll", reason="it moves pixels")
    b.set_outputs([("", o)])
    g = b.finish()
    node = g["mystery"]
    assert node.layer.kind == "opaque" and node.layer.op == "roll"
    assert len(node.inputs) == 1 and isinstance(g[node.inputs[0]].layer, Merge)
    assert "mystery (roll): it moves pixels" in g.diagnostics[0]
    assert receptive_field(g).partial


def test_builder_broadcasts_size_one_axes_of_merge_inputs_exactly() -> None:
    b = GraphBuilder(2, (8, 6))
    gate = b.add(Pool("avg", (8, 6), ndim=2), ["input"], (1, 1), "gate")
    m = b.add(Merge("mul"), ["input", gate], (8, 6), "scale")
    b.set_outputs([("", m)])
    g = b.finish()
    assert not g.partial
    first, second = g["scale"].inputs
    assert first == "input" and g[second].meta["target"] == "broadcast"
    assert g[second].layer.scale == (8, 6)
    assert receptive_field(g, input_size=(8, 6)).size == (8, 6)  # the gate reads the map


def test_builder_names_are_unique_and_unused_nodes_are_dropped() -> None:
    b = GraphBuilder(1, (9,))
    x = b.add(Pointwise("relu"), ["input"], (9,), "act")
    y = b.add(Pointwise("relu"), [x], (9,), "act")
    z = b.add(Pointwise("relu"), [y], (9,), "act")
    b.add(None, [x], (9,), "unused", reason="a test")  # no output depends on it
    b.set_outputs([("a", y), ("b", z)])
    g = b.finish()
    assert (x, y, z) == ("act", "act_1", "act_2")
    assert "unused" not in g and not g.partial and not g.diagnostics
    assert g.outputs == ("output.a", "output.b")
    assert g.output_labels == {"output.a": "a", "output.b": "b"}


def test_builder_graph_level_diagnostic_makes_the_graph_incomplete() -> None:
    b = GraphBuilder(1, (9,), method="hooks")
    b.set_outputs([("", b.add(Pointwise("relu"), ["input"], (9,), "act"))])
    b.diagnose("recorded from one run")
    g = b.finish()
    assert g.partial and g.incomplete == "recorded from one run"
    assert g.diagnostics == ["recorded from one run"]
    rf = receptive_field(g)
    assert rf.partial and rf.diagnostics == ["recorded from one run"]


def test_builder_refuses_bad_input() -> None:
    with pytest.raises(AtrousError, match="axes"):
        GraphBuilder(2, (9,))
    b = GraphBuilder(1, (9,))
    with pytest.raises(AtrousError, match="at least one input"):
        b.add(Pointwise("relu"), [], (9,), "x")
    with pytest.raises(AtrousError, match="unknown input node 'nope'"):
        b.add(Pointwise("relu"), ["nope"], (9,), "x")
    with pytest.raises(AtrousError, match="does not depend"):
        b.set_outputs([])


class _DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 1, 7, padding=3)
        self.b = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) if x.mean() > 0 else self.b(x)


def test_receptive_field_of_a_model_keeps_partial_on_the_hook_fallback() -> None:
    """Issue 14 item 3: the hook fallback's partial flag reaches receptive_field(model)."""
    model = _DataDependent()
    g = to_graph(model, (1, 1, 16, 16))
    assert g.method == "hooks" and g.partial
    rf = receptive_field(model, (1, 1, 16, 16))
    assert rf.partial and "torch.fx could not trace" in rf.diagnostics[0]
    assert all(r.partial for r in receptive_fields(model, (1, 1, 16, 16)).values())


def test_incomplete_graphs_stay_incomplete_when_joined() -> None:
    from atrous import chain, residual

    part = Graph(1)
    part.add(Conv(3, padding=1, ndim=1))
    part.incomplete = "recorded from one run"
    part.diagnostics.append("recorded from one run")
    part.notes.append("a note")
    for joined in (chain(Conv(3, ndim=1), part), residual([part])):
        assert joined.partial and joined.incomplete
        assert joined.diagnostics == ["recorded from one run"] and joined.notes == ["a note"]
