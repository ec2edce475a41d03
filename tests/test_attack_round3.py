"""Round-3 attacks on what was merged last: the lazily built stack() graph and its coverage
fast paths, the shared read-only 1-D profile, atrous.summary, strided streaming and
tiled_forward(out=). Each test failed before its fix; the references are a graph built node by
node, the offline forward pass, and the polynomial product of the layers' tap patterns."""

from __future__ import annotations

import copy
import json
import pickle
from types import MappingProxyType

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from test_tiling_models import integer_weights

from atrous import AtrousError, coverage, stream, tiled_forward
from atrous.cli import main
from atrous.cli.tile import parse_memory
from atrous.graph import Graph, stack
from atrous.layers import Conv
from atrous.summary import summarize
from atrous.units import parse_sample_rate, parse_spacing


def by_hand(rates: list[int], kernel: int, ndim: int) -> Graph:
    g = Graph(ndim)
    for i, r in enumerate(rates):
        g.add(Conv(kernel, dilation=r, padding="same", ndim=ndim), name=f"conv{i}", meta={"i": i})
    return g


def poly(layers: list[tuple[int, int]]) -> list[int]:
    """The product of the layers' tap polynomials sum_j x**(j*d), by np.convolve."""
    out = np.ones(1, dtype=np.int64)
    for d, k in layers:
        taps = np.zeros((k - 1) * d + 1, dtype=np.int64)
        taps[::d] = 1
        out = np.convolve(out, taps)
    return [int(v) for v in out]


# -- graphs ---------------------------------------------------------------------------------
def test_used_graphs_pickle_and_deep_copy() -> None:
    """A stack() graph whose nodes were used (and any graph built node by node) pickles and
    deep-copies (Node's read-only meta stopped both), mapping as the original does."""
    used = stack([1, 2, 5], ndim=2)
    assert len(used) == 3 and used._plain_stack() is None  # its nodes are built now
    ref = coverage(by_hand([1, 2, 5], 3, 2))
    for g in (used, by_hand([1, 2, 5], 3, 2)):
        for other in (pickle.loads(pickle.dumps(g)), copy.deepcopy(g)):
            assert (coverage(other).counts == ref.counts).all()
            assert [n.name for n in other] == [n.name for n in g]
            assert all(isinstance(n.meta, MappingProxyType) for n in other)
    assert dict(pickle.loads(pickle.dumps(by_hand([3], 3, 1)))["conv0"].meta) == {"i": 0}


def test_a_shallow_copy_of_a_built_graph_grows_on_its_own() -> None:
    """copy.copy of an untouched stack() was independent, of a used one it shared the node
    table: adding to the copy changed the original's length."""
    g = stack([1, 2], ndim=1)
    assert len(g) == 2
    c = copy.copy(g)
    c.add(Conv(3, ndim=1))
    c.diagnostics.append("x")
    assert (len(g), g.outputs, g.diagnostics) == (2, ("conv1",), [])
    assert (len(c), c.outputs) == (3, ("conv2",))


def test_nodes_hash_so_graphs_take_set_operations() -> None:
    """Node is frozen, yet hashing one raised TypeError (its meta); set ops on nodes now work
    and a stack() graph's nodes are those of the graph built by hand (meta aside)."""
    g = stack([1, 2, 5], ndim=2)
    plain = Graph(2)
    for i, r in enumerate([1, 2, 5]):
        plain.add(Conv(3, dilation=r, padding="same", ndim=2), name=f"conv{i}")
    assert set(g) == set(plain) and len(set(g) | set(stack([1, 2, 6], ndim=2))) == 5


@pytest.mark.parametrize("rates,kernel", [([3**i for i in range(8)], 3),  # built in place
                                          ([1, 2], 17)])  # numpy's shifted adds
def test_the_shared_1d_profile_cannot_be_made_writeable(rates: list[int], kernel: int) -> None:
    """A 1-D map is the cached profile itself; a caller could set its writeable flag back and
    corrupt every later map. It is now a view of a read-only array: the flag cannot be set."""
    counts = coverage(stack(rates, kernel, ndim=1)).counts
    with pytest.raises(ValueError):
        counts.flags.writeable = True
    again = coverage(stack(rates, kernel, ndim=1)).counts
    assert again.tolist() == poly([(r, kernel) for r in rates])


# -- stream ---------------------------------------------------------------------------------
class ValidThenCausal(nn.Module):
    """A valid convolution, then causal (left-padded) ones with strides 3 and 2 and dilation."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv1d(2, 3, 3)
        self.b = nn.Conv1d(3, 3, 2, stride=3, dilation=2)
        self.c = nn.Conv1d(3, 2, 3, stride=2, dilation=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.a(x))
        y = self.b(F.pad(y, (2, 0)))
        return self.c(F.pad(y, (6, 0)))


def _pushed(s: object, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    outs, i, j = [], 0, 0
    while i < x.shape[-1]:
        n = sizes[j % len(sizes)]
        outs.append(s.push(x[..., i:i + n]))  # type: ignore[attr-defined]
        i, j = i + n, j + 1
    return torch.cat(outs, -1)


@pytest.mark.parametrize("sizes", [[1], [0, 1, 2], [5, 1]])
def test_a_padded_layer_after_a_valid_one_streams_exactly(sizes: list[int]) -> None:
    """Pushes too short for the valid conv left its padded reader with nothing to gather
    (KeyError); the concatenated pushes now equal the offline output bit for bit."""
    model = integer_weights(ValidThenCausal().eval())
    x = torch.randint(-2, 3, (2, 2, 31)).double()
    with torch.no_grad():
        ref = model(x)
    assert ref.abs().max() > 0
    assert torch.equal(_pushed(stream(model), x, sizes), ref)


def test_pushes_before_the_first_output_have_the_outputs_shape() -> None:
    """A push that completes no output returned (N, 0, 0), which torch.cat refuses next to the
    later (N, C_out, T) outputs; it is now (N, C_out, 0) of the model's dtype."""
    valid = integer_weights(nn.Conv1d(1, 4, 3, stride=2).eval())
    s = stream(valid)
    first = s.push(torch.zeros(3, 1, 1, dtype=torch.float64))
    assert (tuple(first.shape), first.dtype) == ((3, 4, 0), torch.float64)
    s.reset()
    x = torch.randint(-2, 3, (3, 1, 20)).double()
    with torch.no_grad():
        assert torch.equal(_pushed(s, x, [1]), valid(x))


def test_a_chunk_the_model_refuses_changes_nothing() -> None:
    """A first chunk with the wrong channel count was kept when too short to reach a conv, so
    every later (right) push failed in torch.cat; it is refused in one line, the stream as
    before. A chunk of another batch size or dtype mid-signal is refused too; reset() starts
    anew."""
    valid = integer_weights(nn.Conv1d(1, 4, 3, stride=2).eval())
    s = stream(valid)
    with pytest.raises(AtrousError, match="refuses a \\(1, 3\\) \\(N, C\\) chunk"):
        s.push(torch.zeros(1, 3, 1, dtype=torch.float64))
    x = torch.randint(-2, 3, (1, 1, 9)).double()
    with torch.no_grad():
        assert torch.equal(_pushed(s, x, [2]), valid(x))
    with pytest.raises(AtrousError, match="2 x 1 \\(N x C\\), this signal's first was 1 x 1"):
        s.push(torch.zeros(2, 1, 4, dtype=torch.float64))
    with pytest.raises(AtrousError, match=r"torch\.float32 on cpu, this signal's first was"):
        s.push(torch.zeros(1, 1, 4))
    s.reset()
    assert s.push(torch.zeros(2, 1, 5, dtype=torch.float64)).shape == (2, 4, 2)


# -- tiled_forward(out=) --------------------------------------------------------------------
def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 2, 3, padding=2, dilation=2), nn.ReLU(),
                         nn.Conv2d(2, 2, 3, padding=1)).eval()


@pytest.mark.parametrize("make,words", [
    (lambda x: torch.empty(1, 2, 20, 20, dtype=torch.long), "out is torch.int64 on cpu"),
    (lambda x: torch.empty(1, 2, 20, 20, device="meta"), "out is torch.float32 on meta"),
    (lambda x: x, "out overlaps the input's memory"),
    (lambda x: x[:, :, :, :], "out overlaps the input's memory"),
    (lambda x: torch.zeros(1, 2, 20, 1).expand(1, 2, 20, 20), "an expand\\(\\)-ed tensor"),
    (lambda x: np.zeros((1, 2, 20, 20), np.float32), "out must be a torch.Tensor"),
])
def test_out_is_refused_rather_than_silently_wrong(make: object, words: str) -> None:
    """An int out truncated the output, a meta out returned no values, an out aliasing x
    made later tiles read written outputs: each is now a one-line AtrousError."""
    x = torch.randn(1, 2, 20, 20)
    with pytest.raises(AtrousError, match=words):
        tiled_forward(_net(), x, 8, out=make(x))  # type: ignore[operator]


def test_out_may_be_a_strided_view_of_a_larger_buffer() -> None:
    net, x = _net(), torch.randn(1, 2, 20, 20)
    big = torch.zeros(1, 2, 20, 40)
    got = tiled_forward(net, x, 8, out=big[..., ::2])
    with torch.no_grad():
        assert torch.equal(got, net(x)) and torch.equal(big[..., ::2], net(x))
    assert not big[..., 1::2].any()


# -- summary, units, CLI parsing ------------------------------------------------------------
@pytest.mark.parametrize("inputs,words", [
    ([(1, 1, 64.5, 64)], "input #0 shape must be an integer, got 64.5"),
    ([(1, 1, "64", 64)], "input #0 shape must be an integer, got '64'"),
    ((1, 1, 64, 64), "inputs must be a list of input shapes, one per input tensor"),
])
def test_summarize_refuses_what_is_no_shape(inputs: object, words: str) -> None:
    """A float size was truncated (64.5 -> 64), text accepted, a flat shape a TypeError."""
    with pytest.raises(AtrousError, match=words):
        summarize(stack([1, 2], ndim=2), inputs)  # type: ignore[arg-type]


def test_summary_depth_is_an_int() -> None:
    s = summarize(stack([1, 2], ndim=2), [(1, 1, 32, 32)])
    assert len(s.table(depth=1)) == 2
    for bad in (2.5, True):
        with pytest.raises(AtrousError, match="depth must be an integer"):
            s.table(depth=bad)  # type: ignore[arg-type]


def test_unit_values_are_refused_in_their_own_words() -> None:
    with pytest.raises(AtrousError, match=r"spacing must have 1 entry \(mm\) for 1-D data"):
        parse_spacing("1x2", ndim=1)
    for rate in ("1e-320", 1e-320):  # positive, but one sample lasts longer than any float
        with pytest.raises(AtrousError, match="period 1/rate is finite"):
            parse_sample_rate(rate)
    for size in ("1e400", "1e308T"):
        with pytest.raises(AtrousError, match="--max-memory must be a finite size"):
            parse_memory(size)


def test_report_names_its_one_input_rule(capsys: pytest.CaptureFixture[str],
                                         tmp_path: object) -> None:
    """Two input shapes were refused as 'must look like 64 or 64x48' (a model's full shape is
    what report asks for); the line now says report takes one shape and where several go."""
    out = f"{tmp_path}/r.html"
    assert main(["report", "torch.nn:Identity", "--input", "1x3x16x16,1x1x16x16",
                 "-o", out]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "takes one input shape" in err and "atrous model" in err


def test_a_global_field_of_no_given_size_is_not_zero_millimetres(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Without an input size a global receptive field has size 0 per axis (no length), which
    --spacing stated as '0x0 pixels = 0 mm x 0 mm'; it is now 'global' and null in the JSON
    (the schema allows it), while an input size still gives the input's length."""
    from atrous import receptive_field, schemas
    from atrous.units import Units, units_dict

    unsized = receptive_field("3x3, gpool")
    assert unsized.is_global and unsized.size == (0, 0)
    d = units_dict(unsized, Units(spacing=0.5))
    assert d is not None and d["receptive_field"] == [None, None]
    assert d["text"][0].startswith("receptive field global") and "0 mm" not in d["text"][0]
    sized = units_dict(receptive_field("3x3, gpool", input_size=(64, 48)), Units(spacing=0.5))
    assert sized is not None and sized["receptive_field"] == [32.0, 24.0]
    assert main(["analyze", "3x3, gpool", "--spacing", "0.5", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    schemas.validate("analyze", doc)
    assert doc["units"]["receptive_field"] == [None, None]


def test_a_plan_for_another_input_size_is_refused() -> None:
    """plan= made for 20x20 cut a 24x24 input to the plan's windows and returned a 20x20
    output (model(x) is 24x24); it is refused, while another batch size still runs."""
    from atrous import tile_plan

    net = _net()
    plan = tile_plan(net, (1, 2, 20, 20), 8)
    with pytest.raises(AtrousError, match=r"the plan was made for a spatial size \(20, 20\)"):
        tiled_forward(net, torch.randn(1, 2, 24, 24), 8, plan=plan)
    x = torch.randn(2, 2, 20, 20)
    with torch.no_grad():
        torch.testing.assert_close(tiled_forward(net, x, 8, plan=plan), net(x))


def test_dask_tiles_keep_only_their_kept_units() -> None:
    """map_model's tiles return "a copy of their kept units", but .contiguous() of a
    contiguous crop (every 1-D one) is the view itself, which kept the whole tile output
    alive until assembly; the kept units now own their memory and equal model(x)."""
    pytest.importorskip("dask")
    from atrous import tile_plan
    from atrous.dask import _run_tile

    net = integer_weights(nn.Sequential(nn.Conv1d(1, 1, 3, padding=4, dilation=4)).eval())
    x = torch.randint(-2, 3, (1, 1, 64)).double()
    plan = tile_plan(net, (1, 1, 64), 16)
    t = plan.tiles[1]
    assert t.crop[0][1] - t.crop[0][0] < t.input[0][1] - t.input[0][0]  # a real crop
    got = _run_tile(net, x[..., t.input[0][0]:t.input[0][1]].numpy(), t, True)
    assert got.base.untyped_storage().nbytes() == got.nbytes
    with torch.no_grad():
        assert np.array_equal(got, net(x)[..., t.output[0][0]:t.output[0][1]].numpy())


def test_compared_networks_each_state_their_lengths(capsys: pytest.CaptureFixture[str]) -> None:
    """--compare with --spacing stated only the first network's lengths (text and JSON); each
    report now carries its own, the text names each network, and a compared network the
    units do not fit is refused before any output."""
    from atrous import schemas

    argv = ["analyze", "--rates", "1,2,5", "--compare", "3x3 d2, gpool", "--spacing", "0.5"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "rates 1,2,5 (kernel 3): receptive field 17x17 pixels = 8.5 mm" in text
    assert "3x3 d2, gpool: receptive field global" in text
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    schemas.validate("analyze", doc)
    assert [r["units"]["receptive_field"] for r in doc["reports"]] == [[8.5, 8.5], [None, None]]
    assert main(["analyze", "--rates", "1,2", "--ndim", "1", "--compare", "3x3 d2",
                 "--sample-rate", "16k"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "--sample-rate is for 1-D" in err


@pytest.mark.parametrize("inputs", [[], [(1, 1, 64)], [(1, 1, 64), (1, 2, 64)]])
def test_a_summary_of_any_graph_follows_the_model_schema(inputs: list[tuple[int, ...]]) -> None:
    """summarize takes any Graph (its own doctest uses stack()), yet the record of one failed
    the schema it documents: method 'graph' was not allowed, nor input [] without a shape."""
    from atrous import schemas

    doc = summarize(stack([1, 2, 5], ndim=1), inputs).to_dict()
    schemas.validate("model", doc)
    assert doc["model"]["method"] == "graph"
    assert doc["model"]["input"] == (list(inputs[0]) if inputs else [])
