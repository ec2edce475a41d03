"""``atrous.arith`` without torch: the seeds' examples, forms, formulas, inverses, bad input.

The torch oracle lives in ``test_arith_torch.py``; here expected values are the formulas
themselves, and the inverse functions are checked against the forward ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import atrous
from atrous import arith
from atrous.errors import AtrousError

FAST = settings(max_examples=150, deadline=None, database=None)


def out_formula(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """The seeds' formula, written out: floor((n + 2p - d(k-1) - 1)/s) + 1."""
    return math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1


# --------------------------------------------------------------------------- the seeds


def test_seed_example_64_to_60() -> None:
    """Seed 000: 64x64 input, 3x3 kernel, dilation 2, padding 0, stride 1 -> 60x60."""
    assert atrous.conv_output_size(64, 3, dilation=2) == out_formula(64, 3, d=2) == 60
    assert atrous.conv_output_size((64, 64), 3, dilation=2) == (60, 60)
    assert atrous.explain("conv", (64, 64), 3, dilation=2) == (
        "H_out = floor((64 + 2*0 - 2*(3-1) - 1)/1) + 1 = 60\n"
        "W_out = floor((64 + 2*0 - 2*(3-1) - 1)/1) + 1 = 60"
    )


@FAST
@given(n=st.integers(1, 500), d=st.integers(1, 64))
def test_padding_equal_to_dilation_keeps_the_size_for_k3(n: int, d: int) -> None:
    """Seeds 001/003/004: k=3, stride 1, padding = dilation keeps the size (ASPP's 6/12/18)."""
    if n + 2 * d >= 2 * d + 1:
        assert atrous.conv_output_size(n, 3, padding=d, dilation=d) == n
        assert atrous.same_padding(3, dilation=d) == (d, d)


def test_aspp_rates_keep_the_size() -> None:
    for rate in (6, 12, 18):
        assert atrous.conv_output_size((65, 33), 3, padding=rate, dilation=rate) == (65, 33)


def test_seed_002_dilation_3_on_32() -> None:
    """Seed 002: a 3x3 conv with dilation 3 on 32x32, padding 0."""
    assert atrous.conv_output_size((32, 32), 3, dilation=3) == (out_formula(32, 3, d=3),) * 2


def test_effective_kernel_size() -> None:
    assert atrous.effective_kernel_size(3, 2) == 2 * (3 - 1) + 1
    assert atrous.effective_kernel_size((3, 5, 1), (6, 1, 4)) == (6 * 2 + 1, 5, 1)


# --------------------------------------------------------------------------- forms


@st.composite
def conv_cfgs(draw: st.DrawFn) -> dict[str, Any]:
    nd = draw(st.integers(1, 3))

    def ax(lo: int, hi: int) -> tuple[int, ...]:
        return tuple(draw(st.integers(lo, hi)) for _ in range(nd))

    kernel, dilation = ax(1, 5), ax(1, 4)
    keff = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    return {
        "size": tuple(draw(st.integers(e, e + 40)) for e in keff),
        "kernel": kernel, "stride": ax(1, 4), "dilation": dilation,
        "pads": tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(nd)),
    }


@FAST
@given(conv_cfgs())
def test_per_axis_form_is_the_scalar_form_per_axis(cfg: dict[str, Any]) -> None:
    size, kernel, stride, dilation, pads = (
        cfg["size"], cfg["kernel"], cfg["stride"], cfg["dilation"], cfg["pads"]
    )
    whole = atrous.conv_output_size(size, kernel, stride, pads, dilation)
    assert isinstance(whole, tuple) and len(whole) == len(size)
    for a, got in enumerate(whole):
        alone = atrous.conv_output_size(size[a], kernel[a], stride[a], (pads[a],), dilation[a])
        assert alone == (got,)
        assert got == (size[a] + sum(pads[a]) - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1


def test_scalar_in_scalar_out_tuple_in_tuple_out() -> None:
    assert atrous.conv_output_size(10, 3) == 8
    assert atrous.conv_output_size((10,), 3) == (8,)
    assert atrous.conv_output_size(10, (3, 5)) == (8, 6)  # an int applies to every axis
    assert atrous.pool_output_size((10, 9), 2) == (5, 4)
    assert atrous.conv_transpose_output_size(4, (2, 3), 2) == (8, 9)
    assert atrous.same_padding((4, 3)) == ((1, 2), (1, 1))


def test_padding_forms_agree() -> None:
    n, k = (20, 21), 3
    assert (
        atrous.conv_output_size(n, k, padding=1)
        == atrous.conv_output_size(n, k, padding=(1, 1))
        == atrous.conv_output_size(n, k, padding=((1, 1), (1, 1)))
        == n
    )
    assert atrous.conv_output_size(n, k, padding="valid") == atrous.conv_output_size(n, k)


# --------------------------------------------------------------------------- same padding


@pytest.mark.parametrize("kernel", [2, 4, 6])
@pytest.mark.parametrize("dilation", [1, 3])
def test_same_padding_even_kernels_beat_the_common_formula(kernel: int, dilation: int) -> None:
    """``(k-1)//2*d`` is short by one for odd totals; same_padding is exact."""
    n = 17
    left, right = atrous.same_padding(kernel, dilation=dilation)
    assert left + right == dilation * (kernel - 1)
    assert atrous.conv_output_size(n, kernel, padding=((left, right),), dilation=dilation) == (n,)
    common = (kernel - 1) // 2 * dilation
    assert atrous.conv_output_size(n, kernel, padding=common, dilation=dilation) < n
    assert atrous.conv_output_size(n, kernel, padding="same", dilation=dilation) == n


def test_same_padding_needs_size_for_stride() -> None:
    with pytest.raises(AtrousError, match=r"stride 2 > 1 depends on the input size"):
        atrous.same_padding(3, stride=2)
    assert atrous.same_padding(3, stride=2, size=64) == (0, 1)
    assert atrous.same_padding(1, stride=2, size=64) == (0, 0)  # no negative padding


# --------------------------------------------------------------------------- pooling


def test_pool_ceil_mode_and_last_window_rule() -> None:
    # ceil((5 + 2*1 - 1 - 1)/2) + 1 = 4, but window 4 would start at 6 >= 5 + 1: dropped
    assert atrous.pool_output_size(5, 2, 2, 1, ceil_mode=True) == math.ceil(5 / 2) + 1 - 1
    assert atrous.pool_output_size(5, 2, 2, 1, ceil_mode=False) == (5 + 2 - 1 - 1) // 2 + 1
    assert atrous.pool_output_size(6, 3, 2, 1, ceil_mode=True) == math.ceil((6 + 2 - 3) / 2) + 1
    assert atrous.pool_output_size(7, 3, 2, dilation=2) == (7 - 2 * 2 - 1) // 2 + 1


# --------------------------------------------------------------------------- explain


def evaluate(line: str) -> tuple[str, int, int]:
    """Split ``X_out = expr = result  (note)`` and evaluate ``expr`` exactly."""
    name, rest = line.split(" = ", 1)
    rest = rest.split("  (", 1)[0]
    expr, result = rest.rsplit(" = ", 1)
    py = re.sub(r"ceil\(\((.*)\)/(\d+)\)", r"(-(-(\1)//\2))", expr)  # exact integer ceil
    py = re.sub(r"floor\(\((.*)\)/(\d+)\)", r"((\1)//\2)", py)
    return name, eval(py, {"__builtins__": {}}), int(result)  # our own formula text


@FAST
@given(conv_cfgs(), st.booleans())
def test_explain_conv_lines_evaluate_to_the_output(cfg: dict[str, Any], symmetric: bool) -> None:
    pads = tuple((a, a) for a, _ in cfg["pads"]) if symmetric else cfg["pads"]
    args = (cfg["size"], cfg["kernel"], cfg["stride"], pads, cfg["dilation"])
    want = atrous.conv_output_size(*args)
    lines = atrous.explain("conv", *args).splitlines()
    assert [evaluate(line)[0] for line in lines] == [
        f"{axis}_out" for axis in arith.axis_names(len(want))
    ]
    for line, o in zip(lines, want):
        _, value, shown = evaluate(line)
        assert value == shown == o
    for line, (left, right) in zip(lines, pads):
        assert (f"2*{left}" if left == right else f"({left} + {right})") in line


@FAST
@given(
    n=st.integers(1, 40), k=st.integers(1, 5), s=st.integers(1, 4), d=st.integers(1, 3),
    data=st.data(), ceil_mode=st.booleans(),
)
def test_explain_pool_lines_evaluate_to_the_output(
    n: int, k: int, s: int, d: int, data: st.DataObject, ceil_mode: bool
) -> None:
    p = data.draw(st.integers(0, k // 2))
    try:
        want = atrous.pool_output_size(n, k, s, p, d, ceil_mode)
    except AtrousError:
        with pytest.raises(AtrousError):
            atrous.explain("pool", n, k, s, p, d, ceil_mode=ceil_mode)
        return
    line = atrous.explain("pool", n, k, s, p, d, ceil_mode=ceil_mode)
    _, value, shown = evaluate(line)
    assert shown == want
    raw = -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1 if ceil_mode else None
    dropped = ceil_mode and (raw - 1) * s >= n + p  # type: ignore[operator]
    assert ("last-window rule" in line) == dropped
    assert value == want  # the "- 1" of the rule is part of the expression
    assert line.startswith("L_out = ceil((" if ceil_mode else "L_out = floor((")


@FAST
@given(
    n=st.integers(1, 30), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 3),
    d=st.integers(1, 3), data=st.data(),
)
def test_explain_transposed_lines_evaluate_to_the_output(
    n: int, k: int, s: int, p: int, d: int, data: st.DataObject
) -> None:
    op = data.draw(st.integers(0, max(s, d) - 1))
    try:
        want = atrous.conv_transpose_output_size(n, k, s, p, d, op)
    except AtrousError:
        return
    line = atrous.explain("transposed", (n, n, n), k, s, p, d, output_padding=op).splitlines()
    assert [evaluate(x)[0] for x in line] == ["D_out", "H_out", "W_out"]
    _, value, shown = evaluate(line[0])
    assert value == shown == want


def test_explain_exact_text() -> None:
    assert atrous.explain("conv", 64, 4, padding="same") == (
        "L_out = floor((64 + (1 + 2) - 1*(4-1) - 1)/1) + 1 = 64"
    )
    assert atrous.explain("transposed", (7, 8), 3, 2, 1, output_padding=(1, 0)) == (
        "H_out = (7-1)*2 - 2*1 + 1*(3-1) + 1 + 1 = 14\n"
        "W_out = (8-1)*2 - 2*1 + 1*(3-1) + 0 + 1 = 15"
    )
    assert atrous.explain("pool", (8, 8, 8), 2, mode="avg").splitlines()[0] == (
        "D_out = floor((8 + 2*0 - 1*(2-1) - 1)/2) + 1 = 4"
    )
    assert atrous.explain("pool", 5, 2, 2, 1, ceil_mode=True) == (
        "L_out = ceil((5 + 2*1 - 1*(2-1) - 1)/2) + 1 - 1 = 3  (PyTorch's last-window rule: "
        "window 4 would start at (4-1)*2 = 6 >= 5 + 1, past the input and its left padding, "
        "so it is dropped)"
    )


# --------------------------------------------------------------------------- inverses


@FAST
@given(conv_cfgs(), st.data())
def test_conv_input_size_range_inverts_the_forward_size(
    cfg: dict[str, Any], data: st.DataObject
) -> None:
    kernel, stride, dilation, pads = cfg["kernel"], cfg["stride"], cfg["dilation"], cfg["pads"]
    output = tuple(data.draw(st.integers(1, 20)) for _ in kernel)

    def forward(n: int, *args: Any) -> int:
        try:
            return int(atrous.conv_output_size(n, *args)[0])
        except AtrousError:
            return 0  # too small to convolve at all

    try:
        ranges = atrous.conv_input_size_range(output, kernel, stride, pads, dilation)
    except AtrousError:
        # then even the smallest input overshoots on some axis
        assert any(
            forward(1, k, s, (pp,), d) > o
            for k, s, d, pp, o in zip(kernel, stride, dilation, pads, output)
        )
        return
    for a, (lo, hi) in enumerate(ranges):
        args = (kernel[a], stride[a], (pads[a],), dilation[a])
        assert forward(lo, *args) == forward(hi, *args) == output[a]
        assert lo == 1 or forward(lo - 1, *args) < output[a]
        assert forward(hi + 1, *args) > output[a]


@FAST
@given(n=st.integers(1, 60), s=st.integers(1, 4), k=st.integers(1, 5), d=st.integers(1, 3))
def test_conv_input_size_range_for_same_padding(n: int, s: int, k: int, d: int) -> None:
    o = atrous.conv_output_size(n, k, s, "same", d)
    assert o == -(-n // s)
    lo, hi = atrous.conv_input_size_range(o, k, s, "same", d)
    assert lo <= n <= hi
    assert atrous.conv_output_size(lo, k, s, "same", d) == atrous.conv_output_size(
        hi, k, s, "same", d
    ) == o
    assert atrous.conv_output_size(hi + 1, k, s, "same", d) == o + 1


def test_inverse_per_axis_forms() -> None:
    assert atrous.conv_input_size_range((60, 30), 3, dilation=2) == ((64, 64), (34, 34))
    assert atrous.pool_input_size_range((4, 4), 2) == ((8, 9), (8, 9))
    assert atrous.conv_transpose_input_size_range((64, 32), 4, 2, 1) == ((32, 32), (16, 16))


@FAST
@given(
    n=st.integers(1, 30), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 4),
    d=st.integers(1, 3), data=st.data(),
)
def test_output_padding_for_round_trip(
    n: int, k: int, s: int, p: int, d: int, data: st.DataObject
) -> None:
    base = (n - 1) * s - 2 * p + d * (k - 1) + 1
    target = data.draw(st.integers(max(1, base - 2), max(1, base + max(s, d) + 1)))
    if base <= target < base + max(s, d):
        op = atrous.output_padding_for(n, target, k, s, p, d)
        assert op == target - base
        assert atrous.conv_transpose_output_size(n, k, s, p, d, op) == target
    else:
        with pytest.raises(AtrousError, match="too small" if target < base else "too large"):
            atrous.output_padding_for(n, target, k, s, p, d)


# --------------------------------------------------------------------------- bad input

BAD: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], str]] = [
    # (function, args, kwargs, regex the message must match: the value and the rule)
    (atrous.conv_output_size, (64, 3), {"dilation": 0}, r"dilation must be >= 1, got 0"),
    (atrous.conv_output_size, (0, 3), {}, r"size must be >= 1, got 0"),
    (atrous.conv_output_size, (64, 3.0), {}, r"kernel must be an integer, got 3\.0"),
    (atrous.conv_output_size, (64, True), {}, r"kernel must be an integer, got True"),
    (atrous.conv_output_size, (64, 3), {"stride": 0}, r"stride must be >= 1, got 0"),
    (atrous.conv_output_size, (64, 3), {"padding": -1}, r"padding must be >= 0, got -1"),
    (atrous.conv_output_size, (64, 3), {"padding": "full"}, r"'valid' or 'same', got 'full'"),
    (atrous.conv_output_size, (64, 3), {"padding": ((0, 1, 2),)}, r"\(left, right\), got"),
    (atrous.conv_output_size, ((64, 64), 3), {"padding": ((0, 1),)}, r"2 \(left, right\) pairs"),
    (atrous.conv_output_size, ((64, 64), (3, 3, 3)), {}, r"disagree on the number of axes"),
    (atrous.conv_output_size, ((1, 2, 3, 4), 3), {}, r"1 to 3 entries"),
    (atrous.conv_output_size, (3, 5), {}, r"output size would be -1 \(< 1\).*effective kernel 5"),
    (atrous.conv_output_size, ((9, 3), 5), {}, r"\(< 1\) \(axis W\)"),
    (atrous.pool_output_size, (8, 3), {"padding": 2}, r"at most half the kernel.*2 > 3//2 = 1"),
    (atrous.pool_output_size, (8, 3), {"padding": "same"}, r"pooling padding must be an int"),
    (atrous.pool_output_size, (2, 3), {"stride": 1}, r"pooling output size would be 0 \(< 1\)"),
    (atrous.pool_output_size, (8, 2), {"mode": "min"}, r"pool mode must be one of .*'min'"),
    (atrous.pool_output_size, (8, 2), {"mode": "avg", "dilation": 2}, r"average pooling has no"),
    (atrous.pool_output_size, (8, 2), {"ceil_mode": 1}, r"ceil_mode must be True or False"),
    (atrous.pool_output_size, ((3, 3, 3), 4), {"padding": 2, "stride": 1, "mode": "avg"},
     r"AvgPool3d.*input 3 < kernel 4"),
    (atrous.conv_transpose_output_size, (7, 3), {"stride": 2, "output_padding": 2},
     r"output_padding 2 >= max\(stride 2, dilation 1\)"),
    (atrous.conv_transpose_output_size, (1, 1), {"padding": 1}, r"would be -1 \(< 1\)"),
    (atrous.conv_transpose_output_size, (4, 3), {"padding": ((0, 1),)}, r"symmetrically"),
    (atrous.effective_kernel_size, (0,), {}, r"kernel must be >= 1, got 0"),
    (atrous.same_padding, (3,), {"dilation": -2}, r"dilation must be >= 1, got -2"),
    (atrous.output_padding_for, (7, 12, 3), {"stride": 2, "padding": 1},
     r"target 12 is too small.*= 13"),
    (atrous.output_padding_for, (7, 15, 3), {"stride": 2, "padding": 1},
     r"needs output_padding 2, but output_padding must be smaller than max\(stride 2"),
    (atrous.output_padding_for, (7, 0, 3), {}, r"target must be >= 1, got 0"),
    (atrous.conv_input_size_range, (1, 1), {"padding": 2}, r"smallest input, 1, already gives 5"),
    (atrous.conv_input_size_range, (0, 3), {}, r"output must be >= 1, got 0"),
    (atrous.pool_input_size_range, (1, 2), {"stride": 1, "padding": 1},
     r"smallest valid input, 1, already gives 2"),
    (atrous.pool_input_size_range, (0, 2), {}, r"output must be >= 1, got 0"),
    (atrous.conv_transpose_input_size_range, (63, 4, 2, 1), {},
     r"input 31 gives at most 62 and input 32 at least 64.*output_padding 1 would reach"),
    (atrous.conv_transpose_input_size_range, (1, 3), {}, r"smallest input, 1, already gives 3"),
    (atrous.explain, ("fold", 64, 3), {}, r"op must be one of 'conv', 'transposed', 'pool'"),
    (atrous.explain, ("conv", 64, 3), {"ceil_mode": True}, r"ceil_mode applies to pooling"),
    (atrous.explain, ("conv", 64, 3), {"output_padding": 1}, r"output_padding applies to trans"),
    (atrous.explain, ("pool", 64, 3), {"padding": 2}, r"at most half the kernel"),
    (atrous.explain, ("transposed", 64, 3), {"output_padding": None}, r"output_padding must be an"),
    (arith.normalize_padding, ("same", 2), {}, r"'same' padding needs the kernel size"),
    (arith.axis_names, (4,), {}, r"ndim must be 1, 2 or 3, got 4"),
]


@pytest.mark.parametrize(("func", "args", "kwargs", "match"), BAD)
def test_bad_input_raises_atrous_error_naming_value_and_rule(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(AtrousError, match=match):
        func(*args, **kwargs)


def test_every_public_arith_function_has_a_bad_input_case() -> None:
    tested = {func.__name__ for func, *_ in BAD}
    public = {name for name in arith.__all__ if callable(getattr(arith, name))
              and not name[0].isupper()}
    assert public <= tested


# --------------------------------------------------------------------------- the docs


def test_docs_arithmetic_python_examples_run() -> None:
    """Every ``>>>`` example in docs/arithmetic.md gives the output the page shows."""
    import doctest
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "arithmetic.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 6
    parser = doctest.DocTestParser()
    test = parser.get_doctest("\n\n".join(blocks), {"atrous": atrous}, "arithmetic.md", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0 and runner.tries >= 15
