"""The functionals remember a call signature's checks (``atrous.nn._impl._CHECKED``): a repeated
call must compute what a first call computes, and must refuse what a first call refuses."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from atrous.errors import AtrousError
from atrous.nn import _impl
from atrous.nn.functional import (
    clear_auto_choices,
    dilated_conv1d,
    dilated_conv2d,
    dilated_conv3d,
)


@pytest.fixture(autouse=True)
def _empty_table() -> None:
    clear_auto_choices()


def _reference(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride: Any,
               pads: list[int], dilation: Any, groups: int, mode: str = "constant") -> torch.Tensor:
    """``F.conv2d`` on the explicitly padded input (``pads`` as F.pad's: W left/right, H ...)."""
    return F.conv2d(F.pad(x, pads, mode=mode), w, b, stride, 0, dilation, groups)


CASES = [
    # x shape, w shape, bias, stride, padding, dilation, groups, mode, F.pad pads
    ((1, 2, 9, 9), (3, 2, 3, 3), True, 1, "same", 2, 1, "zeros", [2, 2, 2, 2]),
    ((2, 4, 10, 7), (4, 2, 3, 2), False, (2, 1), ((1, 0), (2, 3)), (1, 3), 2, "zeros",
     [2, 3, 1, 0]),
    ((2, 9, 11), (2, 2, 3, 3), True, 2, "same", 3, 1, "zeros", [3, 3, 3, 3]),  # unbatched
    ((1, 2, 8, 8), (2, 2, 3, 3), True, 1, 2, 2, 1, "reflect", [2, 2, 2, 2]),
    ((1, 2, 8, 8), (2, 1, 3, 3), True, 3, "valid", 2, 2, "circular", [0, 0, 0, 0]),
]


@pytest.mark.parametrize("case", CASES)
def test_repeated_calls_equal_torch(case: tuple[Any, ...]) -> None:
    xs, ws, has_bias, stride, padding, dilation, groups, mode, pads = case
    torch.manual_seed(0)
    x, w = torch.randn(xs), torch.randn(ws)
    b = torch.randn(ws[0]) if has_bias else None
    batched = x if x.dim() == 4 else x.unsqueeze(0)
    fmode = "constant" if mode == "zeros" else mode
    want = _reference(batched, w, b, stride, pads, dilation, groups, fmode)
    if x.dim() == 3:
        want = want.squeeze(0)
    for impl in ("native", "phase", "space_to_batch", "zero_kernel", "auto"):
        got = [dilated_conv2d(x, w, b, stride, padding, dilation, groups, impl=impl,
                              padding_mode=mode) for _ in range(3)]
        for y in got:  # the first call checked in full, the others reused its checks
            assert y.shape == want.shape
            assert torch.allclose(y, want, atol=1e-5), impl
    assert len(_impl._CHECKED) == 5  # one signature per impl


def test_one_and_three_dimensional_repeats() -> None:
    torch.manual_seed(1)
    x1, w1 = torch.randn(2, 3, 20), torch.randn(4, 3, 3)
    want1 = F.conv1d(F.pad(x1, [4, 4]), w1, None, 1, 0, 4)
    x3, w3 = torch.randn(1, 2, 5, 6, 7), torch.randn(2, 2, 2, 2, 2)
    want3 = F.conv3d(x3, w3, None, 1, 1, (1, 2, 3))
    for _ in range(3):
        assert torch.allclose(dilated_conv1d(x1, w1, padding="same", dilation=4), want1,
                              atol=1e-5)
        assert torch.allclose(dilated_conv3d(x3, w3, None, 1, 1, (1, 2, 3)), want3, atol=1e-5)


@pytest.mark.parametrize(("name", "bad", "rule"), [
    ("stride", 1.0, "stride must be an integer"),
    ("stride", True, "stride must be an integer"),
    ("stride", (1.0, 1), "stride must be an integer"),
    ("stride", (True, 1), "stride must be an integer"),
    ("dilation", 2.0, "dilation must be an integer"),
    ("dilation", (2, 2.0), "dilation must be an integer"),
    ("padding", 2.0, "padding"),
    ("padding", ((2.0, 2), (2, 2)), "padding"),
    ("groups", 1.0, "groups must be an integer"),
    ("groups", True, "groups must be an integer"),
])
def test_a_remembered_signature_still_refuses_what_a_first_call_refuses(
    name: str, bad: Any, rule: str
) -> None:
    """``2.0 == 2`` and ``True == 1`` (and so do tuples of them): a value equal to a checked one
    but of another type is checked in full, and refused as it would be on a first call."""
    x, w = torch.randn(1, 2, 9, 9), torch.randn(2, 2, 3, 3)
    good = {"stride": (1, 1), "padding": ((2, 2), (2, 2)), "dilation": (2, 2), "groups": 1}
    scalar = {"stride": 1, "padding": 2, "dilation": 2, "groups": 1}
    for args in (good, scalar):
        dilated_conv2d(x, w, **args)  # remember the signatures
        dilated_conv2d(x, w, **args)
    assert _impl._CHECKED
    args = dict(scalar if not isinstance(bad, tuple) else good)
    args[name] = bad
    with pytest.raises(AtrousError, match=rule):
        dilated_conv2d(x, w, **args)


def test_numpy_integers_and_lists_are_checked_on_every_call() -> None:
    x, w = torch.randn(1, 2, 9, 9), torch.randn(2, 2, 3, 3)
    want = F.conv2d(x, w, None, 1, 2, 2)
    assert torch.equal(dilated_conv2d(x, w, padding=np.int64(2), dilation=np.int64(2)), want)
    assert torch.equal(dilated_conv2d(x, w, padding=np.int64(2), dilation=np.int64(2)), want)
    rate = [2, 2]
    assert torch.equal(dilated_conv2d(x, w, padding=2, dilation=rate), want)
    rate[1] = 1  # a list can change after a call: it is never remembered
    assert torch.equal(dilated_conv2d(x, w, padding=2, dilation=rate),
                       F.conv2d(x, w, None, 1, 2, (2, 1)))
    rate[1] = 0
    with pytest.raises(AtrousError, match="dilation must be >= 1"):
        dilated_conv2d(x, w, padding=2, dilation=rate)
    assert all(type(k[6]) is not list for k in _impl._CHECKED)


def test_shapes_dtypes_and_tensor_kinds_are_part_of_the_signature() -> None:
    x, w = torch.randn(1, 2, 9, 9), torch.randn(2, 2, 3, 3)
    dilated_conv2d(x, w, padding="same", dilation=2)
    with pytest.raises(AtrousError, match=r"weight expects 3\*1 = 3 input channels"):
        dilated_conv2d(x, torch.randn(2, 3, 3, 3), padding="same", dilation=2)
    with pytest.raises(AtrousError, match="bias must have shape"):
        dilated_conv2d(x, w, torch.randn(3), padding="same", dilation=2)
    with pytest.raises(AtrousError, match="smaller than the effective kernel 5"):
        dilated_conv2d(torch.randn(1, 2, 3, 3), w, padding=0, dilation=2)
    param = torch.nn.Parameter(torch.randn(1, 2, 9, 9))  # a Tensor subclass: checked in full
    assert dilated_conv2d(param, w, padding="same", dilation=2).shape == (1, 2, 9, 9)
    with pytest.raises(AtrousError, match="input must be a torch\\.Tensor"):
        dilated_conv2d(x.numpy(), w, padding="same", dilation=2)  # type: ignore[arg-type]
    with pytest.raises(AtrousError, match="weight must have shape"):
        dilated_conv2d(x, w.numpy(), padding="same", dilation=2)  # type: ignore[arg-type]


def test_the_table_is_bounded() -> None:
    w = torch.randn(1, 1, 3, 3)
    for n in range(5, 5 + _impl._CHECKED_MAX + 10):
        dilated_conv2d(torch.randn(1, 1, n, 5), w, padding="same", dilation=2)
    assert 0 < len(_impl._CHECKED) <= _impl._CHECKED_MAX
    clear_auto_choices()
    assert not _impl._CHECKED
