"""atrous.nn.functional against real torch ops: three dilated-conv implementations, SAME padding,
space-to-batch, channel shuffle, causal convolution, and argument validation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from atrous.errors import AtrousError
from atrous.nn import functional as AF

IMPLS = ["native", "zero_kernel", "space_to_batch"]
CONV = {1: AF.dilated_conv1d, 2: AF.dilated_conv2d, 3: AF.dilated_conv3d}
TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
DT = torch.float64


def torch_pad(x: torch.Tensor, pairs: tuple[tuple[int, int], ...]) -> torch.Tensor:
    """Reference padding with F.pad (last axis first)."""
    flat: list[int] = []
    for lo, hi in reversed(pairs):
        flat += [lo, hi]
    return F.pad(x, flat)


@st.composite
def conv_configs(draw: st.DrawFn, ndim: int) -> dict:
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, 5)) for _ in range(ndim))
    stride = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    pads = tuple((draw(st.integers(0, 5)), draw(st.integers(0, 5))) for _ in range(ndim))
    size = []
    for axis in range(ndim):
        keff = dilation[axis] * (kernel[axis] - 1) + 1
        low = max(1, keff - pads[axis][0] - pads[axis][1])
        size.append(draw(st.integers(low, low + (9 if ndim < 3 else 4))))
    return dict(
        groups=groups,
        c_in=c_in,
        c_out=c_out,
        kernel=kernel,
        dilation=dilation,
        stride=stride,
        pads=pads,
        size=tuple(size),
        bias=draw(st.booleans()),
        batch=draw(st.integers(1, 2)),
        channels_last=ndim > 1 and draw(st.booleans()),
    )


def make(cfg: dict, ndim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(cfg["batch"], cfg["c_in"], *cfg["size"], dtype=DT, generator=g)
    if cfg["channels_last"]:
        fmt = torch.channels_last if ndim == 2 else torch.channels_last_3d
        x = x.contiguous(memory_format=fmt)
    w = torch.randn(
        cfg["c_out"], cfg["c_in"] // cfg["groups"], *cfg["kernel"], dtype=DT, generator=g
    )
    b = torch.randn(cfg["c_out"], dtype=DT, generator=g) if cfg["bias"] else None
    return x, w, b


def reference(cfg: dict, ndim: int, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None):
    return TORCH_CONV[ndim](
        torch_pad(x, cfg["pads"]), w, b, cfg["stride"], 0, cfg["dilation"], cfg["groups"]
    )


@settings(max_examples=300)
@given(cfg=conv_configs(2))
def test_three_implementations_agree_with_conv2d(cfg: dict) -> None:
    x, w, b = make(cfg, 2)
    ref = reference(cfg, 2, x, w, b)
    for impl in IMPLS:
        out = AF.dilated_conv2d(
            x, w, b, cfg["stride"], cfg["pads"], cfg["dilation"], cfg["groups"], impl=impl
        )
        assert out.shape == ref.shape, impl
        torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10, msg=impl)


@settings(max_examples=80)
@given(cfg=conv_configs(1))
def test_three_implementations_agree_with_conv1d(cfg: dict) -> None:
    x, w, b = make(cfg, 1)
    ref = reference(cfg, 1, x, w, b)
    for impl in IMPLS:
        out = AF.dilated_conv1d(
            x, w, b, cfg["stride"], cfg["pads"], cfg["dilation"], cfg["groups"], impl=impl
        )
        torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10, msg=impl)


@settings(max_examples=40)
@given(cfg=conv_configs(3))
def test_three_implementations_agree_with_conv3d(cfg: dict) -> None:
    x, w, b = make(cfg, 3)
    ref = reference(cfg, 3, x, w, b)
    for impl in IMPLS:
        out = AF.dilated_conv3d(
            x, w, b, cfg["stride"], cfg["pads"], cfg["dilation"], cfg["groups"], impl=impl
        )
        torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10, msg=impl)


@pytest.mark.parametrize("impl", IMPLS)
def test_symmetric_int_padding_matches_conv2d_padding_argument(impl: str) -> None:
    x = torch.randn(2, 4, 11, 13, dtype=DT)
    w = torch.randn(6, 2, 3, 2, dtype=DT)
    ref = F.conv2d(x, w, None, (2, 3), (3, 1), (4, 2), 2)
    out = AF.dilated_conv2d(x, w, None, (2, 3), (3, 1), (4, 2), 2, impl=impl)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)


@settings(max_examples=100)
@given(
    k=st.integers(1, 5),
    d=st.integers(1, 4),
    s=st.integers(1, 4),
    n=st.integers(1, 20),
    impl=st.sampled_from(IMPLS),
)
def test_same_padding_is_tensorflow_same(k: int, d: int, s: int, n: int, impl: str) -> None:
    # TensorFlow's SAME: out = ceil(n/s), total = max((out-1)*s + d*(k-1)+1 - n, 0), extra right.
    out = math.ceil(n / s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    left = total // 2
    x = torch.randn(1, 2, n, n + 1, dtype=DT)
    w = torch.randn(3, 2, k, k, dtype=DT)
    total_w = max((math.ceil((n + 1) / s) - 1) * s + d * (k - 1) + 1 - (n + 1), 0)
    pads = ((left, total - left), (total_w // 2, total_w - total_w // 2))
    ref = F.conv2d(torch_pad(x, pads), w, None, s, 0, d)
    got = AF.dilated_conv2d(x, w, None, s, "same", d, impl=impl)
    assert got.shape[-2:] == (out, math.ceil((n + 1) / s))
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_same_with_stride_one_equals_torch_same(k: int, d: int) -> None:
    x = torch.randn(1, 2, 9, 10, dtype=DT)
    w = torch.randn(3, 2, k, k, dtype=DT)
    ref = F.conv2d(x, w, None, 1, "same", d)
    torch.testing.assert_close(AF.dilated_conv2d(x, w, None, 1, "same", d), ref)
    torch.testing.assert_close(
        AF.dilated_conv2d(x, w, None, 1, "same", d, impl="space_to_batch"), ref
    )


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("impl", IMPLS)
def test_padding_mode_matches_nn_conv2d(mode: str, impl: str) -> None:
    conv = torch.nn.Conv2d(2, 3, 3, stride=2, padding=2, dilation=2, padding_mode=mode).double()
    x = torch.randn(1, 2, 9, 8, dtype=DT)
    got = AF.dilated_conv2d(x, conv.weight, conv.bias, 2, 2, 2, impl=impl, padding_mode=mode)
    torch.testing.assert_close(got, conv(x))


def test_unbatched_input_matches_nn_conv2d() -> None:
    conv = torch.nn.Conv2d(2, 3, 3, padding=2, dilation=2).double()
    x = torch.randn(2, 7, 7, dtype=DT)
    for impl in IMPLS:
        torch.testing.assert_close(
            AF.dilated_conv2d(x, conv.weight, conv.bias, 1, 2, 2, impl=impl), conv(x)
        )


def test_dilate_kernel_dense_conv_equals_dilated_conv() -> None:
    w = torch.randn(4, 3, 3, 2, dtype=DT)
    wz = AF.dilate_kernel(w, (3, 2))
    assert wz.shape == (4, 3, 3 * (3 - 1) + 1, 2 * (2 - 1) + 1)
    assert torch.equal(wz[..., ::3, ::2], w)
    rest = wz.clone()
    rest[..., ::3, ::2] = 0
    assert torch.count_nonzero(rest) == 0  # everything else is zero
    x = torch.randn(1, 3, 12, 12, dtype=DT)
    torch.testing.assert_close(F.conv2d(x, wz), F.conv2d(x, w, dilation=(3, 2)))


@pytest.mark.parametrize("impl", ["zero_kernel", "space_to_batch"])
def test_gradients_match_native(impl: str) -> None:
    x = torch.randn(1, 4, 9, 10, dtype=DT, requires_grad=True)
    w = torch.randn(4, 2, 3, 3, dtype=DT, requires_grad=True)
    b = torch.randn(4, dtype=DT, requires_grad=True)
    args = (2, ((1, 2), (0, 3)), (2, 3), 2)
    grads_ref = torch.autograd.grad(AF.dilated_conv2d(x, w, b, *args).square().sum(), (x, w, b))
    grads = torch.autograd.grad(
        AF.dilated_conv2d(x, w, b, *args, impl=impl).square().sum(), (x, w, b)
    )
    for g, r in zip(grads, grads_ref):
        torch.testing.assert_close(g, r)
    small = (
        torch.randn(1, 2, 5, 6, dtype=DT, requires_grad=True),
        torch.randn(2, 1, 2, 2, dtype=DT, requires_grad=True),
    )
    assert torch.autograd.gradcheck(
        lambda a, k: AF.dilated_conv2d(a, k, None, 2, "same", 2, 2, impl=impl), small
    )


def test_space_to_batch_phases_and_round_trip() -> None:
    x = torch.randn(2, 3, 7, 9, dtype=DT)
    r = (2, 3)
    y = AF.space_to_batch(x, r)
    m = (math.ceil(7 / 2), math.ceil(9 / 3))
    assert y.shape == (2 * 3 * 2, 3, *m)
    padded = torch_pad(x, ((0, m[0] * 2 - 7), (0, m[1] * 3 - 9)))
    for a in range(2):
        for b in range(3):
            p = a * 3 + b
            torch.testing.assert_close(y[p * 2 : (p + 1) * 2], padded[..., a::2, b::3])
    torch.testing.assert_close(AF.batch_to_space(y, r, (7, 9)), x)


@settings(max_examples=60)
@given(
    ndim=st.sampled_from([1, 2]),
    rate=st.integers(1, 4),
    layers=st.integers(1, 3),
    k=st.sampled_from([1, 3, 5]),
    groups=st.sampled_from([1, 2]),
    act=st.booleans(),
    bias=st.booleans(),
    data=st.data(),
)
def test_space_to_batch_stage_equals_native_stage(
    ndim: int,
    rate: int,
    layers: int,
    k: int,
    groups: int,
    act: bool,
    bias: bool,
    data: st.DataObject,
) -> None:
    size = tuple(data.draw(st.integers(1, 13)) for _ in range(ndim))
    c = 2 * groups
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, c, *size, dtype=DT, generator=g)
    ws = [torch.randn(c, c // groups, *(k,) * ndim, dtype=DT, generator=g) for _ in range(layers)]
    bs = [torch.randn(c, dtype=DT, generator=g) for _ in range(layers)] if bias else None
    activation = torch.sigmoid if act else None  # sigmoid(0) != 0: the border mask matters
    ref = x
    for i, w in enumerate(ws):
        ref = CONV[ndim](ref, w, None if bs is None else bs[i], 1, "same", rate, groups)
        if activation is not None:
            ref = activation(ref)
    got = AF.space_to_batch_stage(x, ws, rate, bs, groups, activation)
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)


def test_channel_shuffle_matches_torch_and_formula() -> None:
    x = torch.randn(2, 12, 3, 4)
    for g in (1, 2, 3, 4, 6, 12):
        out = AF.channel_shuffle(x, g)
        torch.testing.assert_close(out, torch.nn.ChannelShuffle(g)(x))
        per = 12 // g
        for i in range(per):
            for j in range(g):
                assert torch.equal(out[:, i * g + j], x[:, j * per + i])


@pytest.mark.parametrize("k,d", [(2, 1), (2, 4), (3, 3), (5, 2)])
def test_causal_conv_is_left_padded_conv1d(k: int, d: int) -> None:
    x = torch.randn(2, 3, 20, dtype=DT)
    w = torch.randn(4, 3, k, dtype=DT)
    b = torch.randn(4, dtype=DT)
    ref = F.conv1d(F.pad(x, [d * (k - 1), 0]), w, b, dilation=d)
    torch.testing.assert_close(AF.causal_dilated_conv1d(x, w, b, d), ref)


def test_depthwise_and_gate() -> None:
    x = torch.randn(1, 3, 8, 8, dtype=DT)
    w = torch.randn(6, 1, 3, 3, dtype=DT)
    torch.testing.assert_close(
        AF.depthwise_conv2d(x, w, None, 1, "same", 2), F.conv2d(x, w, None, 1, 2, 2, 3)
    )
    z = torch.randn(2, 6, 5, dtype=DT)
    torch.testing.assert_close(
        AF.gated_activation(z), torch.tanh(z[:, :3]) * torch.sigmoid(z[:, 3:])
    )


X2 = torch.randn(1, 4, 8, 8)
W2 = torch.randn(4, 4, 3, 3)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: AF.dilated_conv2d(X2, W2, dilation=0), "dilation must be >= 1, got 0"),
        (lambda: AF.dilated_conv2d(X2, W2, stride=0), "stride must be >= 1, got 0"),
        (lambda: AF.dilated_conv2d(X2, W2, padding=-1), "padding must be >= 0, got -1"),
        (lambda: AF.dilated_conv2d(X2, W2, padding="full"), "padding must be"),
        (lambda: AF.dilated_conv2d(X2, W2, impl="fft"), "impl must be one of"),
        (lambda: AF.dilated_conv2d(X2, W2, padding_mode="zero"), "padding_mode must be one of"),
        (lambda: AF.dilated_conv2d(X2, W2, groups=3), "groups must divide"),
        (lambda: AF.dilated_conv2d(X2, torch.randn(4, 2, 3, 3)), "input channels"),
        (lambda: AF.dilated_conv2d(X2, torch.randn(4, 4, 3)), "weight must have shape"),
        (lambda: AF.dilated_conv2d(torch.randn(8, 8), W2), "input must have shape"),
        (lambda: AF.dilated_conv2d(X2, W2, torch.randn(3)), "bias must have shape"),
        (lambda: AF.dilated_conv2d(X2, W2, dilation=4), "output size would be 0 (< 1) (axis H)"),
        (
            lambda: AF.dilated_conv2d(X2, W2, padding=8, padding_mode="reflect"),
            "needs padding smaller than the input size",
        ),
        (lambda: AF.dilated_conv2d(X2, W2, dilation=(1, 2, 3)), "dilation must have 2 entries"),
        (lambda: AF.channel_shuffle(X2, 3), "groups must divide the channels"),
        (lambda: AF.channel_shuffle(X2, 0), "groups must be >= 1, got 0"),
        (lambda: AF.causal_dilated_conv1d(torch.randn(1, 4, 8), W2), "weight must be"),
        (lambda: AF.space_to_batch_stage(X2, [torch.randn(4, 4, 2, 2)], 2), "must be odd"),
        (lambda: AF.space_to_batch_stage(X2, [W2], 2, biases=[]), "one bias per weight"),
        (lambda: AF.batch_to_space(torch.randn(3, 1, 4, 4), 2, 8), "not a multiple"),
        (lambda: AF.batch_to_space(torch.randn(4, 1, 4, 4), 2, 9), "exceeds"),
        (lambda: AF.dilate_kernel(W2, 0), "dilation must be >= 1"),
        (lambda: AF.gated_activation(torch.randn(1, 3, 4)), "even channel count"),
        (lambda: AF.dilated_stack(X2, [W2], [1, 2]), "one rate per weight"),
        (
            lambda: AF.causal_dilated_stack(
                torch.randn(1, 4, 8), [torch.randn(4, 4, 2)], [1], gated=True
            ),
            "needs proj_weights",
        ),
    ],
)
def test_bad_arguments_raise_atrous_error(call, message: str) -> None:
    with pytest.raises(AtrousError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_an_empty_output_is_refused_as_arith_and_torch_refuse_it() -> None:
    """The output-size rule is arith's, in arith's words (the functional adds its name)."""
    import atrous

    with pytest.raises(RuntimeError):
        F.conv2d(X2, W2, dilation=(1, 4))  # torch refuses it too
    with pytest.raises(AtrousError) as ours:
        AF.dilated_conv2d(X2, W2, dilation=(1, 4))
    with pytest.raises(AtrousError) as arith:
        atrous.conv_output_size((8, 8), (3, 3), dilation=(1, 4))
    assert str(ours.value) == f"dilated_conv2d: {arith.value}"
    assert "(axis W)" in str(arith.value)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("size", "stride"), [((12, 12), 1), ((17, 19), 1), ((17, 19), 2)])
def test_channels_last_input_gives_channels_last_output(
    impl: str, size: tuple[int, int], stride: int
) -> None:
    # sizes that the rate does not divide make space_to_batch narrow its result
    x = torch.randn(2, 8, *size, dtype=DT).contiguous(memory_format=torch.channels_last)
    w = torch.randn(8, 8, 3, 3, dtype=DT)
    out = AF.dilated_conv2d(x, w, None, stride, 4, 4, impl=impl)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, F.conv2d(x.contiguous(), w, None, stride, 4, 4))


def test_generated_variants_keep_their_signature_module_and_doctests() -> None:
    """dilated_conv1d/2d/3d, resnet18..101 and the DeepLab builders are made from one template
    each (nn._variants): help() shows the public signature, and doctest collects their
    examples as their module's own."""
    import doctest
    import inspect

    from atrous.nn import deeplab, functional, resnet

    assert list(inspect.signature(functional.dilated_conv3d).parameters) == [
        "x", "weight", "bias", "stride", "padding", "dilation", "groups", "impl", "padding_mode",
    ]
    sig = inspect.signature(resnet.resnet50)
    assert list(sig.parameters) == [
        "output_stride", "multi_grid", "num_classes", "norm", "in_channels", "width",
        "zero_init_residual",
    ]
    assert sig.parameters["num_classes"].kind is inspect.Parameter.KEYWORD_ONLY
    plus = inspect.signature(deeplab.deeplabv3plus_resnet101).parameters
    assert plus["output_stride"].default == 16
    for module, names in (
        (functional, {"dilated_conv1d", "dilated_conv2d", "dilated_conv3d"}),
        (resnet, {"resnet18", "resnet34", "resnet50", "resnet101"}),
        (deeplab, {"deeplabv3_resnet50", "deeplabv3_resnet101", "deeplabv3plus_resnet50"}),
    ):
        tests = doctest.DocTestFinder().find(module)
        found = {t.name.rsplit(".", 1)[-1] for t in tests if t.examples}
        assert names <= found, names - found
        for name in names:
            assert getattr(module, name).__module__ == module.__name__
            assert getattr(module, name).__name__ == name
