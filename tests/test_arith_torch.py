"""``atrous.arith`` against real torch ops: same shapes, and errors exactly where torch raises.

Each property draws random configurations (1-D/2-D/3-D, small tensors, batch 1, one channel),
runs the real torch op and the atrous formula, and requires the same spatial output size, or an
exception from both (torch's RuntimeError/ValueError, atrous's AtrousError).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import atrous
from atrous.errors import AtrousError

torch = pytest.importorskip("torch")
F = torch.nn.functional

FAST = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# the three shape-vs-torch properties: thousands of configurations in all (issue 2)
THOROUGH = settings(FAST, max_examples=1500)
MAX_SIZE = {1: 40, 2: 14, 3: 8}  # keeps every tensor tiny

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def torch_shape(run: Callable[[], Any]) -> tuple[int, ...] | None:
    """Spatial shape torch produces, or None where torch refuses the configuration.

    An empty output (some axis 0) counts as a refusal: see
    ``test_transposed_conv_with_an_empty_axis_is_refused``.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shape = tuple(run().shape[2:])
    except (RuntimeError, ValueError):
        return None
    return shape if min(shape) >= 1 else None


def atrous_shape(run: Callable[[], Any]) -> tuple[int, ...] | None:
    """atrous's answer as a tuple, or None where it raises AtrousError."""
    try:
        value = run()
    except AtrousError:
        event("atrous raises")  # --hypothesis-show-statistics shows the share of error cases
        return None
    event("atrous answers")
    return tuple(value) if isinstance(value, tuple) else (value,)


def zeros(*shape: int) -> Any:
    return torch.zeros((1, 1, *shape))


def per_axis(draw: st.DrawFn, ndim: int, lo: int, hi: int) -> tuple[int, ...]:
    return tuple(draw(st.integers(lo, hi)) for _ in range(ndim))


@st.composite
def conv_configs(draw: st.DrawFn) -> dict[str, Any]:
    ndim = draw(st.integers(1, 3))
    return {
        "ndim": ndim,
        "size": per_axis(draw, ndim, 1, MAX_SIZE[ndim]),
        "kernel": per_axis(draw, ndim, 1, 4),
        "stride": per_axis(draw, ndim, 1, 4),
        "dilation": per_axis(draw, ndim, 1, 4),
        "pads": tuple(
            (draw(st.integers(0, 4)), draw(st.integers(0, 4))) for _ in range(ndim)
        ),
        "symmetric": draw(st.booleans()),
    }


@THOROUGH
@given(conv_configs())
def test_conv_output_size_matches_torch(cfg: dict[str, Any]) -> None:
    ndim, size, kernel = cfg["ndim"], cfg["size"], cfg["kernel"]
    stride, dilation = cfg["stride"], cfg["dilation"]
    weight = zeros(*kernel)
    if cfg["symmetric"]:  # torch's own padding argument
        padding: Any = tuple(left for left, _ in cfg["pads"])
        expected = torch_shape(
            lambda: CONV[ndim](zeros(*size), weight, None, stride, padding, dilation)
        )
    else:  # asymmetric (left, right) through F.pad, whose list runs from the last axis
        padding = cfg["pads"]
        flat = [v for pair in reversed(padding) for v in pair]
        expected = torch_shape(
            lambda: CONV[ndim](F.pad(zeros(*size), flat), weight, None, stride, 0, dilation)
        )
    got = atrous_shape(lambda: atrous.conv_output_size(size, kernel, stride, padding, dilation))
    assert got == expected


@settings(FAST, max_examples=100)
@given(conv_configs())
def test_same_padding_is_torchs_same_for_stride_1(cfg: dict[str, Any]) -> None:
    """Values, not just shapes: torch's padding='same' equals F.pad with atrous's split."""
    ndim, size, kernel, dilation = cfg["ndim"], cfg["size"], cfg["kernel"], cfg["dilation"]
    gen = torch.Generator().manual_seed(sum(size) + 7 * sum(kernel))
    x = torch.rand((1, 1, *size), generator=gen, dtype=torch.float64)
    w = torch.rand((1, 1, *kernel), generator=gen, dtype=torch.float64)
    pairs = atrous.same_padding(kernel, 1, dilation)
    flat = [v for pair in reversed(pairs) for v in pair]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that even 'same' kernels copy the input
        reference = CONV[ndim](x, w, None, 1, "same", dilation)
    ours = CONV[ndim](F.pad(x, flat), w, None, 1, 0, dilation)
    assert torch.equal(reference, ours)
    assert atrous.conv_output_size(size, kernel, 1, "same", dilation) == size


@settings(FAST, max_examples=150)
@given(conv_configs())
def test_same_padding_with_stride_gives_ceil_and_is_minimal(cfg: dict[str, Any]) -> None:
    """TensorFlow's 'same': output ceil(n/s), least total padding, extra pixel on the right."""
    ndim, size, kernel = cfg["ndim"], cfg["size"], cfg["kernel"]
    stride, dilation = cfg["stride"], cfg["dilation"]
    pairs = atrous.same_padding(kernel, stride, dilation, size)
    flat = [v for pair in reversed(pairs) for v in pair]
    weight = zeros(*kernel)
    shape = torch_shape(
        lambda: CONV[ndim](F.pad(zeros(*size), flat), weight, None, stride, 0, dilation)
    )
    want = tuple(math.ceil(n / s) for n, s in zip(size, stride))
    assert shape == want
    assert atrous.conv_output_size(size, kernel, stride, "same", dilation) == want
    for axis, (left, right) in enumerate(pairs):
        assert right - left in (0, 1)
        if left + right:  # one pixel less total padding would lose an output
            fewer = list(pairs)
            fewer[axis] = (left, right - 1) if right > left else (left - 1, right)
            flat = [v for pair in reversed(fewer) for v in pair]
            smaller = torch_shape(
                lambda f=flat: CONV[ndim](F.pad(zeros(*size), f), weight, None, stride, 0, dilation)
            )
            assert smaller is None or smaller[axis] < want[axis]


@st.composite
def transpose_configs(draw: st.DrawFn) -> dict[str, Any]:
    ndim = draw(st.integers(1, 3))
    stride = per_axis(draw, ndim, 1, 4)
    dilation = per_axis(draw, ndim, 1, 3)
    return {
        "ndim": ndim,
        "size": per_axis(draw, ndim, 1, {1: 12, 2: 6, 3: 3}[ndim]),
        "kernel": per_axis(draw, ndim, 1, 4),
        "stride": stride,
        "dilation": dilation,
        "padding": per_axis(draw, ndim, 0, 6),
        # one past the legal range, so torch's output_padding rule is exercised too
        "output_padding": tuple(
            draw(st.integers(0, max(s, d))) for s, d in zip(stride, dilation)
        ),
    }


@THOROUGH
@given(transpose_configs())
def test_conv_transpose_output_size_matches_torch(cfg: dict[str, Any]) -> None:
    ndim = cfg["ndim"]
    args = (cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"], cfg["output_padding"])
    expected = torch_shape(
        lambda: CONV_T[ndim](
            zeros(*cfg["size"]), zeros(*cfg["kernel"]), None, cfg["stride"], cfg["padding"],
            cfg["output_padding"], 1, cfg["dilation"],
        )
    )
    got = atrous_shape(lambda: atrous.conv_transpose_output_size(cfg["size"], *args))
    assert got == expected


def test_transposed_conv_with_an_empty_axis_is_refused() -> None:
    """The one place atrous is stricter than torch, on purpose.

    torch 2.x on CPU raises "Output size is too small" for most transposed convs with an output
    axis < 1, but some 2-D/3-D kernels only check that *one* axis is >= 1 and return an empty
    tensor. A size-0 axis is never a usable layer, so atrous always raises.
    """
    x, w = zeros(3, 9), zeros(4, 5)
    try:
        shape: tuple[int, ...] | None = tuple(
            F.conv_transpose2d(x, w, None, (1, 2), (3, 0), 0, 1, (1, 3)).shape[2:]
        )
    except RuntimeError:
        shape = None
    axis0 = (3 - 1) * 1 - 2 * 3 + 1 * (4 - 1) + 0 + 1
    axis1 = (9 - 1) * 2 - 2 * 0 + 3 * (5 - 1) + 0 + 1
    assert shape in (None, (axis0, axis1)) and axis0 == 0
    with pytest.raises(AtrousError, match=r"output size would be 0 \(< 1\) \(axis H\)"):
        atrous.conv_transpose_output_size((3, 9), (4, 5), (1, 2), (3, 0), (1, 3))
    assert torch_shape(lambda: F.conv_transpose1d(zeros(3), zeros(4), None, 1, 3)) is None


@st.composite
def pool_configs(draw: st.DrawFn) -> dict[str, Any]:
    ndim = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["max", "avg"]))
    kernel = per_axis(draw, ndim, 1, 5)
    return {
        "ndim": ndim,
        "mode": mode,
        "size": per_axis(draw, ndim, 1, MAX_SIZE[ndim]),
        "kernel": kernel,
        "stride": draw(st.none() | st.just(per_axis(draw, ndim, 1, 4))),
        # up to one past half the kernel, so torch's padding rule is exercised too
        "padding": tuple(draw(st.integers(0, k // 2 + 1)) for k in kernel),
        "dilation": per_axis(draw, ndim, 1, 3) if mode == "max" else (1,) * ndim,
        "ceil_mode": draw(st.booleans()),
    }


def torch_pool(cfg: dict[str, Any], size: tuple[int, ...]) -> tuple[int, ...] | None:
    ndim, x = cfg["ndim"], zeros(*size)
    if cfg["mode"] == "max":
        return torch_shape(
            lambda: MAX_POOL[ndim](
                x, cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"],
                ceil_mode=cfg["ceil_mode"],
            )
        )
    return torch_shape(
        lambda: AVG_POOL[ndim](
            x, cfg["kernel"], cfg["stride"], cfg["padding"], ceil_mode=cfg["ceil_mode"]
        )
    )


@THOROUGH
@given(pool_configs())
def test_pool_output_size_matches_torch(cfg: dict[str, Any]) -> None:
    got = atrous_shape(
        lambda: atrous.pool_output_size(
            cfg["size"], cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"],
            cfg["ceil_mode"], cfg["mode"],
        )
    )
    assert got == torch_pool(cfg, cfg["size"])


def test_avg_pool3d_checks_the_unpadded_input_like_torch() -> None:
    """PyTorch's AvgPool3d (only) refuses an input smaller than the kernel, padding or not."""
    cfg = {"ndim": 3, "mode": "avg", "kernel": 4, "stride": 1, "padding": 2, "dilation": 1,
           "ceil_mode": False}
    assert torch_pool(cfg, (3, 3, 3)) is None
    assert torch_pool({**cfg, "mode": "max"}, (3, 3, 3)) == (3 + 2 * 2 - 4 + 1,) * 3
    with pytest.raises(AtrousError, match="AvgPool3d"):
        atrous.pool_output_size((3, 3, 3), 4, 1, 2, mode="avg")
    assert atrous.pool_output_size((3, 3, 3), 4, 1, 2, mode="max") == (3 + 2 * 2 - 4 + 1,) * 3
    assert atrous.pool_output_size((3, 3), 4, 1, 2, mode="avg") == (3 + 2 * 2 - 4 + 1,) * 2


# ----------------------------------------------------------------------- inverse questions
# Brute force over every input size that could matter, with torch as the oracle.


@settings(FAST, max_examples=150)
@given(
    kernel=st.integers(1, 4), stride=st.integers(1, 4), dilation=st.integers(1, 3),
    left=st.integers(0, 5), right=st.integers(0, 5), output=st.integers(1, 6),
)
def test_conv_input_size_range_matches_brute_force(
    kernel: int, stride: int, dilation: int, left: int, right: int, output: int
) -> None:
    keff = dilation * (kernel - 1) + 1
    weight = zeros(kernel)
    hits = [
        n for n in range(1, output * stride + keff + 2)
        if torch_shape(
            lambda n=n: F.conv1d(F.pad(zeros(n), [left, right]), weight, None, stride, 0, dilation)
        ) == (output,)
    ]
    got = atrous_shape(
        lambda: atrous.conv_input_size_range(output, kernel, stride, ((left, right),), dilation)
    )
    assert got == (None if not hits else ((hits[0], hits[-1]),))
    assert hits == list(range(hits[0], hits[-1] + 1)) if hits else True


@settings(FAST, max_examples=200)
@given(
    ndim=st.sampled_from([1, 3]), mode=st.sampled_from(["max", "avg"]), kernel=st.integers(1, 4),
    stride=st.integers(1, 3), dilation=st.integers(1, 3), data=st.data(),
    ceil_mode=st.booleans(), output=st.integers(1, 5),
)
def test_pool_input_size_range_matches_brute_force(
    ndim: int, mode: str, kernel: int, stride: int, dilation: int, data: st.DataObject,
    ceil_mode: bool, output: int,
) -> None:
    padding = data.draw(st.integers(0, kernel // 2))
    cfg = {"ndim": ndim, "mode": mode, "kernel": kernel, "stride": stride, "padding": padding,
           "dilation": dilation if mode == "max" else 1, "ceil_mode": ceil_mode}
    keff = cfg["dilation"] * (kernel - 1) + 1
    hits = [
        n for n in range(1, output * stride + keff + 2)
        if torch_pool(cfg, (n,) * ndim) == (output,) * ndim
    ]
    got = atrous_shape(
        lambda: atrous.pool_input_size_range(
            (output,) * ndim, kernel, stride, padding, cfg["dilation"], ceil_mode, mode  # type: ignore[arg-type]
        )
    )
    assert got == (None if not hits else ((hits[0], hits[-1]),) * ndim)


def conv_transpose1d_shape(n: int, k: int, s: int, p: int, op: int, d: int) -> Any:
    return torch_shape(lambda: F.conv_transpose1d(zeros(n), zeros(k), None, s, p, op, 1, d))


@settings(FAST, max_examples=150)
@given(
    kernel=st.integers(1, 4), stride=st.integers(1, 4), dilation=st.integers(1, 3),
    padding=st.integers(0, 4), output=st.integers(1, 12), data=st.data(),
)
def test_conv_transpose_input_size_range_matches_brute_force(
    kernel: int, stride: int, dilation: int, padding: int, output: int, data: st.DataObject
) -> None:
    legal = range(max(stride, dilation))
    fixed = data.draw(st.none() | st.sampled_from(list(legal)))
    hits = sorted({
        n
        for n in range(1, output + 2 * padding + 2)
        for op in (legal if fixed is None else [fixed])
        if conv_transpose1d_shape(n, kernel, stride, padding, op, dilation) == (output,)
    })
    got = atrous_shape(
        lambda: atrous.conv_transpose_input_size_range(
            output, kernel, stride, padding, dilation, fixed
        )
    )
    assert got == (None if not hits else (hits[0], hits[-1]))
    assert hits == list(range(hits[0], hits[-1] + 1)) if hits else True


@settings(FAST, max_examples=200)
@given(transpose_configs(), st.data())
def test_output_padding_for_is_the_one_torch_accepts(
    cfg: dict[str, Any], data: st.DataObject
) -> None:
    """Of every output_padding torch might take, exactly the returned one reaches the target.

    Axes are independent, so torch is asked per axis (1-D), where one axis's failure cannot
    hide another's answer.
    """
    size, kernel = cfg["size"], cfg["kernel"]
    stride, padding, dilation = cfg["stride"], cfg["padding"], cfg["dilation"]
    base = [(n - 1) * s - 2 * p + d * (k - 1) + 1
            for n, k, s, p, d in zip(size, kernel, stride, padding, dilation)]
    target = tuple(max(1, b + data.draw(st.integers(-2, max(s, d) + 1)))
                   for b, s, d in zip(base, stride, dilation))
    works = [
        [op for op in range(max(s, d) + 1) if conv_transpose1d_shape(n, k, s, p, op, d) == (t,)]
        for n, k, s, p, d, t in zip(size, kernel, stride, padding, dilation, target)
    ]
    assert all(len(ok) <= 1 for ok in works)
    got = atrous_shape(
        lambda: atrous.output_padding_for(size, target, kernel, stride, padding, dilation)
    )
    assert got == (tuple(ok[0] for ok in works) if all(works) else None)


def test_output_padding_for_agrees_with_torch_module_output_size() -> None:
    """``ConvTranspose2d(...)(x, output_size=...)`` solves the same problem (stride >= dilation)."""
    layer = torch.nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1)
    x = zeros(7, 9)
    for target in [(13, 17), (14, 18), (13, 18)]:
        op = atrous.output_padding_for((7, 9), target, 3, 2, 1)
        assert tuple(layer(x, output_size=target).shape[2:]) == target
        assert atrous.conv_transpose_output_size((7, 9), 3, 2, 1, 1, op) == target


# -- every pooling family's extra rules, swept exhaustively (issue 14, item 5) -------------------
LP_POOL = {1: F.lp_pool1d, 2: F.lp_pool2d, 3: F.lp_pool3d}
SWEEP_SIZES = range(1, 7)
SWEEP_KERNELS = range(1, 5)
SWEEP_STRIDES = range(1, 4)
SWEEP_PADDINGS = range(0, 3)


def torch_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[int, ...] | None:
    """Spatial shape of ``fn(*args, **kwargs)``, or None where torch refuses (no hypothesis)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shape = tuple(fn(*args, **kwargs).shape[2:])
    except (RuntimeError, ValueError):
        return None
    return shape if min(shape) >= 1 else None


def atrous_pool(*args: Any) -> tuple[int, ...] | None:
    """``atrous.pool_output_size(*args)`` as a tuple, or None where it raises AtrousError."""
    try:
        value = atrous.pool_output_size(*args)
    except AtrousError:
        return None
    return tuple(value) if isinstance(value, tuple) else (value,)


def _pool_sweep(mode: str, ndim: int) -> list[tuple[Any, ...]]:
    """Every (n, k, s, p, d, ceil) of the grid where torch and atrous disagree (empty: none)."""
    wrong = []
    dilations = range(1, 3) if mode == "max" else (1,)
    for n, k, s, p, d, ceil in itertools.product(
        SWEEP_SIZES, SWEEP_KERNELS, SWEEP_STRIDES, SWEEP_PADDINGS, dilations, (False, True)
    ):
        x = zeros(*(n,) * ndim)
        if mode == "max":
            want = torch_call(MAX_POOL[ndim], x, k, s, p, d, ceil_mode=ceil)
        else:
            want = torch_call(AVG_POOL[ndim], x, k, s, p, ceil_mode=ceil)
        got = atrous_pool((n,) * ndim, k, s, p, d, ceil, mode)
        if got != want:
            wrong.append((n, k, s, p, d, ceil, want, got))
    return wrong


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_rules_match_torch_on_the_whole_grid(mode: str, ndim: int) -> None:
    """Sizes 1-6, kernels 1-4, strides 1-3, padding 0-2, dilation 1-2 (max), ceil_mode both:
    torch's padding <= kernel/2, output >= 1, last-window, avg-no-dilation and AvgPool3d's
    input >= kernel rules, all at once. No random draw: the grid is the test."""
    assert _pool_sweep(mode, ndim) == []


def test_avg_pool3d_input_at_least_the_kernel_on_every_axis() -> None:
    """The issue's case: padding does not count; max pooling has no such rule."""
    x = zeros(7, 4, 7)
    args = ((2, 5, 1), (4, 2, 3), (1, 0, 0))
    assert torch_call(F.avg_pool3d, x, *args, ceil_mode=True) is None
    with pytest.raises(AtrousError, match=r"AvgPool3d needs an input at least as large as the "
                                          r"kernel \(axis H\): input 4 < kernel 5"):
        atrous.pool_output_size((7, 4, 7), *args, ceil_mode=True, mode="avg")
    max_shape = torch_call(F.max_pool3d, x, *args, ceil_mode=True)
    assert max_shape == atrous.pool_output_size((7, 4, 7), *args, ceil_mode=True) == (2, 1, 3)
    with pytest.raises(AtrousError, match="AvgPool3d"):
        atrous.parse("3d: avgpool 2x5x1 s4x2x3 p1x0x0 ceil").shapes((7, 4, 7))


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_lp_pool_is_avg_pool_without_padding(ndim: int) -> None:
    """F.lp_pool*d runs avg_pool*d with padding 0 (so AvgPool3d's input rule holds for 3-D)."""
    wrong = []
    for n, k, s, ceil in itertools.product(SWEEP_SIZES, SWEEP_KERNELS, SWEEP_STRIDES,
                                           (False, True)):
        x = zeros(*(n,) * ndim) + 1.0
        want = torch_call(LP_POOL[ndim], x, 2.0, k, s, ceil_mode=ceil)
        got = atrous_pool((n,) * ndim, k, s, 0, 1, ceil, "avg")
        if got != want:
            wrong.append((n, k, s, ceil, want, got))
    assert wrong == []


def test_mixed_axes_3d_pooling_matches_torch() -> None:
    """Per-axis rules on 3-D inputs with different values per axis (a fixed slice of the grid)."""
    axes = list(itertools.product(range(1, 6), range(1, 4), range(1, 3), range(0, 2)))
    wrong = []
    for i in range(400):
        shifts = ((7, 0), (13, 5), (29, 11))
        picks = [axes[(i * step + shift) % len(axes)] for step, shift in shifts]
        size, k, s, p = (tuple(v) for v in zip(*picks))
        x = zeros(*size)
        for mode, ceil in itertools.product(("max", "avg"), (False, True)):
            fn = MAX_POOL[3] if mode == "max" else AVG_POOL[3]
            want = torch_call(fn, x, k, s, p, ceil_mode=ceil)
            got = atrous_pool(size, k, s, p, 1, ceil, mode)
            if got != want:
                wrong.append((mode, size, k, s, p, ceil, want, got))
    assert wrong == []


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_adaptive_pooling_takes_any_size(ndim: int) -> None:
    """Adaptive pooling has no extra rule: any input >= 1, any target >= 1 (even larger)."""
    adaptive = {
        "avg": getattr(F, f"adaptive_avg_pool{ndim}d"),
        "max": getattr(F, f"adaptive_max_pool{ndim}d"),
    }
    for mode, n, t in itertools.product(("avg", "max"), range(1, 6), range(1, 8)):
        want = torch_call(adaptive[mode], zeros(*(n,) * ndim), t)
        layer = atrous.AdaptivePool(mode, t, ndim=ndim)  # type: ignore[arg-type]
        assert layer.output_size((n,) * ndim) == want == (t,) * ndim
