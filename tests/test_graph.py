"""Layers and the Graph IR: validation, builders, and shapes against real torch ops."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import atrous
from atrous import (
    AtrousError,
    Conv,
    ConvTranspose,
    Graph,
    Pool,
    Upsample,
    chain,
    parallel,
    residual,
)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Conv(3, dilation=0, ndim=2), "dilation must be >= 1, got 0"),
        (lambda: Conv((3, 3), stride=(1, 1, 1)), "disagree"),
        (lambda: Conv(3), "ndim"),
        (lambda: Conv(3, stride=2, padding="same", ndim=2), "depends on the input size"),
        (lambda: Conv(3, groups=2, in_channels=3, ndim=2), "divisible by groups"),
        (lambda: Conv(2.5, ndim=1), "kernel must be an integer"),
        (lambda: Pool("median", 2, ndim=2), "pool mode must be one of"),  # type: ignore[arg-type]
        (lambda: Pool("max", 2, padding=2, ndim=2), "at most half the kernel"),
        (lambda: Pool("avg", 3, dilation=2, ndim=2), "no dilation"),
        (lambda: ConvTranspose(3, stride=2, output_padding=2, ndim=2), "output_padding"),
        (lambda: Upsample(2, "nearest", align_corners=True, ndim=2), "align_corners"),
        (lambda: Graph(4), "ndim must be 1, 2 or 3"),
        (lambda: atrous.stack([]), "non-empty"),
        (lambda: atrous.stack([1, 0]), "rate #1 must be >= 1"),
    ],
)
def test_bad_layers_raise_atrous_error(make, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AtrousError, match=match):
        make()


def test_graph_rejects_bad_wiring() -> None:
    g = Graph(2)
    with pytest.raises(AtrousError, match="unknown input node"):
        g.add(Conv(3, ndim=2), inputs="nope")
    with pytest.raises(AtrousError, match="3 spatial axes"):
        g.add(Conv(3, ndim=3))
    a = g.add(Conv(3, padding=1, ndim=2))
    with pytest.raises(AtrousError, match="at least 2 inputs"):
        g.merge("add", [a])
    with pytest.raises(AtrousError, match="already used"):
        g.add(Conv(1, ndim=2), name=a)
    b = g.add(Conv(3, ndim=2), inputs="input")
    g.merge("add", [a, b])
    with pytest.raises(AtrousError, match="different sizes"):
        g.shapes((8, 8))


def test_stack_is_the_seeds_case() -> None:
    g = atrous.stack([1, 2, 5], kernel=3, ndim=2)
    convs = [n.layer for n in g.layer_nodes()]
    assert all(isinstance(c, Conv) for c in convs)
    assert [c.dilation for c in convs] == [(1, 1), (2, 2), (5, 5)]  # type: ignore[union-attr]
    # padding = dilation*(kernel-1)/2 keeps the size
    assert g.shapes((31, 31))[g.output] == (31, 31)
    even = atrous.stack([1, 3], kernel=2, ndim=1)
    assert [n.layer.padding for n in even.layer_nodes()] == [((0, 1),), ((1, 2),)]  # type: ignore[attr-defined]
    assert even.shapes((10,))[even.output] == (10,)


def test_builders_wire_residual_and_parallel() -> None:
    block = residual([Conv(3, padding=1, ndim=2), Conv(3, padding=1, ndim=2)])
    out = block[block.output]
    assert out.layer == atrous.Merge("add")
    assert set(out.inputs) == {"conv1", "input"}
    aspp = parallel([[Conv(1, ndim=2)], [Conv(3, padding=6, dilation=6, ndim=2)], []])
    assert len(aspp[aspp.output].inputs) == 3
    net = chain(Conv(3, stride=2, padding=1, ndim=2), block, aspp)
    assert not net.is_chain()
    assert atrous.stack([1, 2]).is_chain()
    assert net.ancestors(net.output) >= {"input", "conv0"}


def _torch_apply(layer: object, x: torch.Tensor) -> torch.Tensor:
    """Run the torch op an analytic layer describes (2-D)."""
    if isinstance(layer, Conv):
        (pt, pb), (pl, pr) = layer.padding
        x = F.pad(x, (pl, pr, pt, pb))
        w = torch.ones(1, 1, *layer.kernel, dtype=x.dtype)
        return F.conv2d(x, w, stride=layer.stride, dilation=layer.dilation)
    if isinstance(layer, Pool):
        if layer.mode == "max":
            return F.max_pool2d(x, layer.kernel, layer.stride, layer.padding, layer.dilation,
                                ceil_mode=layer.ceil_mode)
        return F.avg_pool2d(x, layer.kernel, layer.stride, layer.padding, ceil_mode=layer.ceil_mode)
    if isinstance(layer, ConvTranspose):
        w = torch.ones(1, 1, *layer.kernel, dtype=x.dtype)
        return F.conv_transpose2d(x, w, stride=layer.stride, padding=layer.padding,
                                  output_padding=layer.output_padding, dilation=layer.dilation)
    assert isinstance(layer, Upsample)
    return F.interpolate(x, scale_factor=layer.scale, mode=layer.mode)


layer_strategy = st.one_of(
    st.builds(
        lambda k, s, d, p: Conv(k, stride=s, padding=p, dilation=d, ndim=2),
        st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(0, 3),
    ),
    st.builds(
        lambda k, s, p, c: Pool("max", k, s, min(p, k // 2), ceil_mode=c, ndim=2),
        st.integers(1, 3), st.integers(1, 3), st.integers(0, 1), st.booleans(),
    ),
    st.builds(
        lambda k, s, p: ConvTranspose(k, s, p, ndim=2),
        st.integers(1, 4), st.integers(1, 3), st.integers(0, 1),
    ),
    st.builds(lambda f: Upsample(f, ndim=2), st.integers(1, 3)),
)


@given(st.lists(layer_strategy, min_size=1, max_size=4), st.integers(8, 24), st.integers(8, 24))
def test_graph_shapes_match_torch(layers: list[object], h: int, w: int) -> None:
    g = chain(*layers)  # type: ignore[arg-type]
    x = torch.zeros(1, 1, h, w)
    try:
        for layer in layers:
            x = _torch_apply(layer, x)
        expected: tuple[int, ...] | None = tuple(x.shape[2:])
    except RuntimeError:
        expected = None
    if expected is None or min(expected) < 1:
        with pytest.raises(AtrousError):
            g.shapes((h, w))
    else:
        assert g.shapes((h, w))[g.output] == expected
