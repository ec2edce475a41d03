"""atrous.nn.conv modules against plain compositions of torch layers with the same weights."""

from __future__ import annotations

import math

import pytest
import torch
import torch.fx
from torch import nn

from atrous.errors import AtrousError
from atrous.nn import functional as AF
from atrous.nn.conv import (
    ChannelShuffle,
    DilatedConv1d,
    DilatedConv2d,
    DilatedConv3d,
    FlattenedConv,
    GroupedConv2d,
    SeparableConv2d,
    SpatialSeparableConv2d,
)

DT = torch.float64


def tf_same(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow's SAME (left, right) for one axis, written out."""
    total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def copy_into(target: nn.Module, source: nn.Module) -> None:
    target.load_state_dict(source.state_dict(), strict=True)


# -- DilatedConv1d/2d/3d ---------------------------------------------------------------------


def test_init_and_state_dict_match_nn_conv2d() -> None:
    torch.manual_seed(0)
    ref = nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2)
    torch.manual_seed(0)
    mine = DilatedConv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2)
    assert torch.equal(mine.weight, ref.weight) and torch.equal(mine.bias, ref.bias)
    mine.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 4, 11, 9)
    torch.testing.assert_close(mine(x), ref(x))


@pytest.mark.parametrize("impl", ["native", "zero_kernel", "space_to_batch"])
@pytest.mark.parametrize("k,s,d", [(3, 2, 2), (4, 3, 1), (2, 2, 3), (5, 1, 2), (1, 3, 1)])
def test_dilated_conv2d_same_equals_zeropad_then_conv(impl: str, k: int, s: int, d: int) -> None:
    mine = DilatedConv2d(3, 5, k, stride=s, dilation=d, impl=impl).double()
    h, w = 13, 10
    (top, bottom), (left, right) = tf_same(h, k, s, d), tf_same(w, k, s, d)
    ref = nn.Sequential(
        nn.ZeroPad2d((left, right, top, bottom)), nn.Conv2d(3, 5, k, stride=s, dilation=d)
    ).double()
    copy_into(ref[1], mine)
    x = torch.randn(2, 3, h, w, dtype=DT)
    out = mine(x)
    assert out.shape[-2:] == (math.ceil(h / s), math.ceil(w / s))
    torch.testing.assert_close(out, ref(x))


def test_dilated_conv1d_and_3d_equal_padded_torch_convs() -> None:
    m1 = DilatedConv1d(2, 3, 4, stride=3, dilation=2).double()
    ref1 = nn.Sequential(
        nn.ConstantPad1d(tf_same(17, 4, 3, 2), 0.0), nn.Conv1d(2, 3, 4, stride=3, dilation=2)
    ).double()
    copy_into(ref1[1], m1)
    x1 = torch.randn(2, 2, 17, dtype=DT)
    torch.testing.assert_close(m1(x1), ref1(x1))

    m3 = DilatedConv3d(2, 3, (3, 2, 3), stride=(1, 2, 2), dilation=(2, 1, 3)).double()
    size, k, s, d = (5, 7, 9), (3, 2, 3), (1, 2, 2), (2, 1, 3)
    pads = [tf_same(*a) for a in zip(size, k, s, d)]
    flat = [v for p in reversed(pads) for v in p]
    ref3 = nn.Sequential(
        nn.ConstantPad3d(tuple(flat), 0.0), nn.Conv3d(2, 3, k, stride=s, dilation=d)
    ).double()
    copy_into(ref3[1], m3)
    x3 = torch.randn(1, 2, *size, dtype=DT)
    torch.testing.assert_close(m3(x3), ref3(x3))


def test_explicit_and_asymmetric_padding() -> None:
    m = DilatedConv2d(2, 2, 3, padding=((0, 2), (1, 0)), dilation=2).double()
    x = torch.randn(1, 2, 8, 8, dtype=DT)
    ref = nn.functional.conv2d(nn.functional.pad(x, [1, 0, 0, 2]), m.weight, m.bias, dilation=2)
    torch.testing.assert_close(m(x), ref)
    sym = DilatedConv2d(2, 2, 3, padding=(1, 2), dilation=(1, 2), padding_mode="reflect").double()
    conv = nn.Conv2d(2, 2, 3, padding=(1, 2), dilation=(1, 2), padding_mode="reflect").double()
    copy_into(conv, sym)
    torch.testing.assert_close(sym(x), conv(x))


# -- the composite modules -------------------------------------------------------------------


@pytest.mark.parametrize("train", [True, False])
def test_separable_conv_equals_depthwise_bn_relu_pointwise(train: bool) -> None:
    torch.manual_seed(0)
    mine = SeparableConv2d(
        4, 6, 3, stride=2, dilation=2, depth_multiplier=2, norm=nn.BatchNorm2d, activation=nn.ReLU
    ).double()
    ref = nn.Sequential(
        # ZeroPad2d takes (left, right, top, bottom): W = 9, H = 11
        nn.ZeroPad2d((*tf_same(9, 3, 2, 2), *tf_same(11, 3, 2, 2))),
        nn.Conv2d(4, 8, 3, stride=2, dilation=2, groups=4, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 6, 1),
    ).double()
    sd = mine.state_dict()
    ref[1].load_state_dict({"weight": sd["depthwise.weight"]})
    ref[2].load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("norm.")})
    ref[4].load_state_dict({"weight": sd["pointwise.weight"], "bias": sd["pointwise.bias"]})
    mine.train(train)
    ref.train(train)
    x = torch.randn(2, 4, 11, 9, dtype=DT)
    torch.testing.assert_close(mine(x), ref(x))
    n = 4 * 2 * 9 + 8 * 6 + 6 + 2 * 8  # depthwise, pointwise, pointwise bias, BN affine
    assert sum(p.numel() for p in mine.parameters()) == n


def test_spatial_separable_reproduces_the_seed_example() -> None:
    # seed 002: a 3x3 kernel [[.15,.2,.25],[.21,.28,.35],[.24,.32,.4]] = [.5,.7,.8]^T [.3,.4,.5]
    full = torch.tensor([[0.15, 0.20, 0.25], [0.21, 0.28, 0.35], [0.24, 0.32, 0.40]], dtype=DT)
    m = SpatialSeparableConv2d(1, 1, 3, padding=0, bias=False).double()
    with torch.no_grad():
        m.vertical.weight.copy_(torch.tensor([0.5, 0.7, 0.8]).view(1, 1, 3, 1))
        m.horizontal.weight.copy_(torch.tensor([0.3, 0.4, 0.5]).view(1, 1, 1, 3))
    x = torch.randint(0, 255, (1, 1, 32, 32)).to(DT)
    torch.testing.assert_close(m(x), nn.functional.conv2d(x, full.view(1, 1, 3, 3)))


@pytest.mark.parametrize("padding", ["same", 2, ((1, 2), (0, 3))])
def test_spatial_separable_equals_two_torch_convs(padding) -> None:
    m = SpatialSeparableConv2d(
        3, 4, (3, 5), stride=(2, 1), dilation=(2, 3), padding=padding, mid_channels=5
    ).double()
    x = torch.randn(2, 3, 12, 13, dtype=DT)
    if padding == "same":
        ph, pw = tf_same(12, 3, 2, 2), tf_same(13, 5, 1, 3)
    elif isinstance(padding, int):
        ph = pw = (padding, padding)
    else:
        ph, pw = padding
    v = nn.Conv2d(3, 5, (3, 1), stride=(2, 1), dilation=(2, 1)).double()
    h = nn.Conv2d(5, 4, (1, 5), dilation=(1, 3)).double()
    copy_into(v, m.vertical)
    copy_into(h, m.horizontal)
    ref = nn.Sequential(nn.ZeroPad2d((0, 0, *ph)), v, nn.ZeroPad2d((*pw, 0, 0)), h)
    torch.testing.assert_close(m(x), ref(x))


def test_flattened_conv_is_three_1d_convs_and_a_rank1_filter() -> None:
    m = FlattenedConv(3, 4, (3, 5), dilation=2).double()
    x = torch.randn(2, 3, 10, 11, dtype=DT)
    ph, pw = tf_same(10, 3, 1, 2), tf_same(11, 5, 1, 2)
    ref = nn.Sequential(
        nn.Conv2d(3, 4, 1, bias=False),
        nn.ZeroPad2d((*pw, *ph)),
        nn.Conv2d(4, 4, (3, 1), dilation=(2, 1), groups=4, bias=False),
        nn.Conv2d(4, 4, (1, 5), dilation=(1, 2), groups=4),
    ).double()
    copy_into(ref[0], m.channel)
    copy_into(ref[2], m.vertical)
    copy_into(ref[3], m.horizontal)
    torch.testing.assert_close(m(x), ref(x))
    # each output channel is the rank-1 filter c[o, i] * v[o, a] * h[o, b]
    c = m.channel.weight[:, :, 0, 0]
    v = m.vertical.weight[:, 0, :, 0]
    h = m.horizontal.weight[:, 0, 0, :]
    full = torch.einsum("oi,oa,ob->oiab", c, v, h)
    dense = nn.functional.conv2d(
        nn.functional.pad(x, [*pw, *ph]), full, m.horizontal.bias, dilation=2
    )
    torch.testing.assert_close(m(x), dense)
    assert sum(p.numel() for p in m.parameters()) == 4 * (3 + 3 + 5) + 4


@pytest.mark.parametrize("shuffle", [False, True])
def test_grouped_conv_equals_conv_then_torch_channel_shuffle(shuffle: bool) -> None:
    m = GroupedConv2d(6, 9, 3, groups=3, stride=1, dilation=2, shuffle=shuffle).double()
    conv = nn.Conv2d(6, 9, 3, padding=2, dilation=2, groups=3).double()
    copy_into(conv, m)
    ref = nn.Sequential(conv, nn.ChannelShuffle(3)) if shuffle else conv
    x = torch.randn(2, 6, 8, 8, dtype=DT)
    torch.testing.assert_close(m(x), ref(x))
    assert sum(p.numel() for p in m.parameters()) == 6 * 9 * 3 * 3 // 3 + 9


def test_channel_shuffle_module_equals_torch() -> None:
    x = torch.randn(2, 8, 3, 3)
    torch.testing.assert_close(ChannelShuffle(4)(x), nn.ChannelShuffle(4)(x))


# -- module <-> functional, gradients, tracing --------------------------------------------------


def all_modules() -> list[tuple[nn.Module, torch.Tensor]]:
    torch.manual_seed(0)
    img = torch.randn(2, 4, 9, 10)
    return [
        (DilatedConv1d(4, 6, 2, stride=3, dilation=2), torch.randn(2, 4, 11)),
        (DilatedConv2d(4, 6, 3, stride=2, dilation=2), img),
        (DilatedConv2d(4, 6, 3, dilation=3, impl="space_to_batch"), img),
        (DilatedConv2d(4, 6, 3, dilation=3, impl="zero_kernel"), img),
        (DilatedConv3d(4, 2, 3, stride=2, dilation=(1, 2, 1)), torch.randn(1, 4, 5, 6, 7)),
        (
            SeparableConv2d(
                4, 6, 3, stride=2, dilation=2, norm=nn.BatchNorm2d, activation=nn.ReLU
            ).eval(),
            img,
        ),
        (SpatialSeparableConv2d(4, 6, 3, stride=2, dilation=2), img),
        (FlattenedConv(4, 6, 3, stride=2), img),
        (GroupedConv2d(4, 6, 3, groups=2, shuffle=True), img),
        (ChannelShuffle(2), img),
    ]


def test_modules_call_their_functional_twins() -> None:
    x = torch.randn(2, 4, 9, 10)
    m = DilatedConv2d(4, 6, 3, stride=2, dilation=2)
    torch.testing.assert_close(m(x), AF.dilated_conv2d(x, m.weight, m.bias, 2, "same", 2))
    s = SeparableConv2d(4, 6, 3, dilation=2, activation=nn.ReLU)
    torch.testing.assert_close(
        s(x),
        AF.separable_conv2d(
            x,
            s.depthwise.weight,
            s.pointwise.weight,
            None,
            s.pointwise.bias,
            1,
            "same",
            2,
            None,
            torch.relu,
        ),
    )
    sp = SpatialSeparableConv2d(4, 6, 3, stride=2)
    torch.testing.assert_close(
        sp(x),
        AF.spatial_separable_conv2d(
            x, sp.vertical.weight, sp.horizontal.weight, sp.vertical.bias, sp.horizontal.bias, 2
        ),
    )
    f = FlattenedConv(4, 6, 3)
    torch.testing.assert_close(
        f(x),
        AF.flattened_conv(
            x,
            f.channel.weight,
            f.vertical.weight,
            f.horizontal.weight,
            horizontal_bias=f.horizontal.bias,
        ),
    )
    g = GroupedConv2d(4, 6, 3, groups=2, shuffle=True)
    torch.testing.assert_close(g(x), AF.grouped_conv2d(x, g.weight, g.bias, 2, shuffle=True))


def test_gradients_reach_every_parameter() -> None:
    for module, x in all_modules():
        module.train()
        x = x.clone().requires_grad_(True)
        module(x).square().sum().backward()
        assert x.grad is not None and x.grad.abs().sum() > 0, type(module).__name__
        for name, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, (type(module).__name__, name)


def test_fx_symbolic_trace_records_the_functional_ops() -> None:
    for module, x in all_modules():
        gm = torch.fx.symbolic_trace(module)
        torch.testing.assert_close(gm(x), module(x))
        targets = {getattr(n.target, "__name__", n.target) for n in gm.graph.nodes}
        assert targets & {
            "dilated_conv1d",
            "dilated_conv2d",
            "dilated_conv3d",
            "depthwise_conv2d",
            "channel_shuffle",
        }, type(module).__name__


@pytest.mark.slow
def test_torch_export_and_compile_fullgraph() -> None:
    # torch.export is the successor of TorchScript tracing; torch.jit.script cannot compile the
    # Python argument validation, and torch.jit.trace is deprecated in this torch.
    for module, x in all_modules():
        exported = torch.export.export(module, (x,))
        torch.testing.assert_close(exported.module()(x), module(x))
    for module, x in all_modules()[1:3]:
        compiled = torch.compile(module, backend="eager", fullgraph=True)
        torch.testing.assert_close(compiled(x), module(x))


def test_extra_repr() -> None:
    assert repr(DilatedConv2d(3, 8, 3, stride=2, dilation=2)) == (
        "DilatedConv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=same, dilation=(2, 2))"
    )
    text = repr(DilatedConv2d(2, 2, 3, padding=((0, 1), (1, 1)), bias=False, impl="zero_kernel"))
    assert "padding=((0, 1), (1, 1))" in text and "bias=False" in text and "zero_kernel" in text
    assert "depth_multiplier=2" in repr(SeparableConv2d(2, 4, depth_multiplier=2))
    assert "mid_channels=5" in repr(SpatialSeparableConv2d(2, 4, mid_channels=5))
    assert "shuffle=True" in repr(GroupedConv2d(4, 4, groups=2, shuffle=True))
    assert repr(ChannelShuffle(3)) == "ChannelShuffle(groups=3)"


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: DilatedConv2d(3, 8, 3, dilation=0), "dilation must be >= 1, got 0"),
        (lambda: DilatedConv2d(3, 8, 0), "kernel_size must be >= 1, got 0"),
        (lambda: DilatedConv2d(3, 8, 3, groups=2), "groups must divide"),
        (lambda: DilatedConv2d(3, 8, 3, padding="full"), "padding must be"),
        (lambda: DilatedConv2d(3, 8, 3, padding=-1), "padding must be >= 0"),
        (lambda: DilatedConv2d(3, 8, 3, impl="fft"), "impl must be one of"),
        (lambda: DilatedConv2d(3, 8, 3, padding_mode="zero"), "padding_mode must be one of"),
        (lambda: DilatedConv2d(3, 8, (3, 3, 3)), "kernel_size must have 2 entries"),
        (lambda: DilatedConv2d(0, 8, 3), "in_channels must be >= 1"),
        (lambda: DilatedConv2d(3.0, 8, 3), "in_channels must be an integer"),
        (lambda: SeparableConv2d(3, 8, norm=3), "norm must be"),
        (lambda: SeparableConv2d(3, 4, norm=nn.BatchNorm2d(5)), "num_features=5 but normalises 3"),
        (lambda: SeparableConv2d(4, 4, norm=nn.GroupNorm(2, 6)), "num_channels=6 but normalises 4"),
        (lambda: SeparableConv2d(3, 8, depth_multiplier=0), "depth_multiplier must be >= 1"),
        (lambda: SpatialSeparableConv2d(3, 8, mid_channels=0), "mid_channels must be >= 1"),
        (lambda: FlattenedConv(3, 8, stride=0), "stride must be >= 1"),
        (lambda: GroupedConv2d(6, 8, groups=4), "groups must divide"),
        (lambda: ChannelShuffle(0), "groups must be >= 1"),
    ],
)
def test_bad_construction_raises_atrous_error(build, message: str) -> None:
    with pytest.raises(AtrousError, match=message):
        build()


def test_bad_input_raises_atrous_error() -> None:
    with pytest.raises(AtrousError, match="input channels"):
        DilatedConv2d(3, 8, 3)(torch.randn(1, 4, 8, 8))
    with pytest.raises(AtrousError, match=r"dilated_conv2d: output size would be -\d+ \(< 1\)"):
        DilatedConv2d(3, 8, 3, padding=0, dilation=5)(torch.randn(1, 3, 8, 8))


def test_analysis_reads_the_modules_as_conv_layers() -> None:
    import atrous
    from atrous.fx import to_graph

    model = nn.Sequential(DilatedConv2d(3, 4, 4, stride=2, dilation=2), FlattenedConv(4, 4, 3))
    graph = to_graph(model, (1, 3, 33, 32))
    assert not graph.partial
    convs = [n.layer for n in graph.layer_nodes() if n.layer.kind == "conv"]
    assert convs[0].padding == (tf_same(33, 4, 2, 2), tf_same(32, 4, 2, 2))
    assert [c.kernel for c in convs] == [(4, 4), (1, 1), (3, 1), (1, 3)]
    # the analysis' receptive field equals the autograd support of one output unit
    x = torch.zeros(1, 3, 33, 32, dtype=DT, requires_grad=True)
    m = model.double()
    for p in m.parameters():
        nn.init.uniform_(p, 0.5, 1.0)
    m(x)[0, 0, 8, 8].backward()
    rows, cols = torch.nonzero(x.grad[0].sum(0), as_tuple=True)
    extent = (int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1)
    assert atrous.receptive_field(graph).size == extent
    # a padding mode that changes what border units read is said (interior boxes stay exact)
    reflect = to_graph(DilatedConv2d(3, 4, 3, padding_mode="reflect"), (1, 3, 16, 16))
    assert not reflect.partial and any("reflect" in n for n in reflect.notes)
