"""The implementations of a dilated convolution (native, zero_kernel, space_to_batch, phase, auto)
against torch's own ``F.convNd``, values and gradients; the ``auto`` probe; the dilation tax."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from atrous.cli import main
from atrous.errors import AtrousError
from atrous.nn import ASPP, DilatedConv2d, _impl
from atrous.nn.functional import (
    Impl,
    clear_auto_choices,
    dilated_conv1d,
    dilated_conv2d,
    dilated_conv3d,
    dilation_tax,
)

IMPLS: list[Impl] = ["native", "zero_kernel", "space_to_batch", "phase", "auto"]
TORCH = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
OURS = {1: dilated_conv1d, 2: dilated_conv2d, 3: dilated_conv3d}


@pytest.fixture(autouse=True)
def _fresh_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_auto_choices()
    monkeypatch.setattr(_impl, "AUTO_REPEATS", 1)  # the probe's choice is not what is tested


CASES = [
    # ndim, size, kernel, stride, dilation, padding, groups
    (2, (11, 9), 3, 1, 2, 2, 1),
    (2, (13, 10), 3, (1, 2), (2, 3), 0, 1),
    (2, (12, 12), 2, 2, 4, 3, 2),
    (1, (20,), 3, 2, 3, 4, 2),
    (3, (4, 5, 6), 2, 1, (1, 2, 3), 1, 1),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CASES)
def test_every_impl_equals_torch_values_and_gradients(impl: Impl, case: tuple) -> None:
    ndim, size, k, stride, dilation, padding, groups = case
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((2, 4, *size), generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn((6, 4 // groups, *[k] * ndim), generator=gen, dtype=torch.float64,
                    requires_grad=True)
    b = torch.randn(6, generator=gen, dtype=torch.float64)
    want = TORCH[ndim](x, w, b, stride, padding, dilation, groups)
    got = OURS[ndim](x, w, b, stride, padding, dilation, groups, impl=impl)
    assert got.shape == want.shape
    assert torch.allclose(got, want, atol=1e-10)
    g = torch.randn(want.shape, generator=gen, dtype=torch.float64)
    gx, gw = torch.autograd.grad(want, (x, w), g)
    hx, hw = torch.autograd.grad(got, (x, w), g)
    assert torch.allclose(hx, gx, atol=1e-10) and torch.allclose(hw, gw, atol=1e-10)


def test_float32_outputs_agree_to_1e5() -> None:
    x, w = torch.randn(1, 4, 19, 17), torch.randn(4, 4, 3, 3)
    ref = dilated_conv2d(x, w, padding="same", dilation=3, impl="native")
    for impl in IMPLS[1:]:
        got = dilated_conv2d(x, w, padding="same", dilation=3, impl=impl)
        assert (got - ref).abs().max() <= 1e-5 * max(1.0, float(ref.abs().max()))


def fake_timer(times: dict[str, float], calls: list[str]):  # type: ignore[no-untyped-def]
    """A best_of that reports fixed times per implementation (and counts its calls)."""

    def best_of(fn, device, repeats):  # type: ignore[no-untyped-def]
        impl = fn.args[0]
        calls.append(impl)
        fn()  # the probe still runs the implementation once
        return times[impl]

    return best_of


def test_auto_picks_the_fastest_once_and_caches_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    times = {"native": 1.0, "space_to_batch": 0.5, "phase": 0.2}
    monkeypatch.setattr(_impl, "best_of", fake_timer(times, calls))
    x, w = torch.randn(1, 2, 9, 9), torch.randn(2, 2, 3, 3)
    y = dilated_conv2d(x, w, padding="same", dilation=4, impl="auto")
    assert _impl.last_choice() == "phase" and sorted(calls) == sorted(_impl.AUTO_IMPLS)
    y2 = dilated_conv2d(x, w, padding="same", dilation=4, impl="auto")
    assert len(calls) == 3  # cached: no second probe for the same device, dtype and shape
    assert torch.equal(y, y2)
    dilated_conv2d(x[:, :, :8], w, padding="same", dilation=4, impl="auto")
    assert len(calls) == 6  # another shape: probed again
    assert list(_impl.auto_choices().values()) == ["phase", "phase"]


def test_auto_stays_native_unless_clearly_faster(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    times = {"native": 1.0, "space_to_batch": 0.95, "phase": 0.93}  # within the margin
    monkeypatch.setattr(_impl, "best_of", fake_timer(times, calls))
    x, w = torch.randn(1, 2, 16, 16), torch.randn(2, 2, 3, 3)
    dilated_conv2d(x, w, padding="same", dilation=2, impl="auto")
    assert _impl.last_choice() == "native"


def test_auto_does_not_probe_undilated_meta_or_fake_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(_impl, "best_of", fake_timer({}, calls))
    w = torch.randn(2, 2, 3, 3)
    dilated_conv2d(torch.randn(1, 2, 8, 8), w, dilation=1, impl="auto")
    out = dilated_conv2d(torch.empty(1, 2, 8, 8, device="meta"), w.to("meta"), dilation=2,
                         impl="auto")
    assert out.shape == (1, 2, 4, 4)
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode() as mode:
        fx = mode.from_tensor(torch.randn(1, 2, 8, 8))
        fw = mode.from_tensor(w)
        assert dilated_conv2d(fx, fw, dilation=2, impl="auto").shape == (1, 2, 4, 4)
    assert calls == []


def test_modules_with_auto_equal_native() -> None:
    torch.manual_seed(0)
    conv = DilatedConv2d(4, 6, 3, dilation=3)
    auto = DilatedConv2d(4, 6, 3, dilation=3, impl="auto")
    auto.load_state_dict(conv.state_dict())
    x = torch.randn(1, 4, 11, 10)
    assert torch.allclose(auto(x), conv(x), atol=1e-5)
    aspp = ASPP(4, 4, rates=(2, 3)).eval()
    x = torch.randn(1, 4, 9, 9)
    for impl in ("auto", "phase", "space_to_batch"):
        other = ASPP(4, 4, rates=(2, 3), impl=impl).eval()
        assert other.state_dict().keys() == aspp.state_dict().keys()
        other.load_state_dict(aspp.state_dict())
        assert torch.allclose(other(x), aspp(x), atol=1e-5)
    with pytest.raises(AtrousError, match="impl must be one of"):
        ASPP(8, 8, impl="fast")


def test_dilation_tax_rows_and_ratios() -> None:
    tax = dilation_tax((1, 2, 12, 12), dilations=(2,), impls=("native", "phase", "auto"),
                       repeats=1, backward=True)
    assert [(r.impl, r.dilation) for r in tax.rows] == [
        ("native", 1), ("phase", 1), ("auto", 1), ("native", 2), ("phase", 2), ("auto", 2)]
    assert tax.rows[0].ratio == 1.0
    for r in tax.rows:
        assert r.ratio == pytest.approx(r.seconds / tax.rows[0].seconds)
        assert r.max_error <= 1e-5
    assert tax.rows[2].chose == "native"  # dilation 1 is never decomposed
    text = tax.table()
    assert "forward + backward" in text and "t(d)/t(1)" in text
    with pytest.raises(AtrousError, match="size must be"):
        dilation_tax((1, 2))
    with pytest.raises(AtrousError, match="dtype must be one of"):
        dilation_tax(dtype="int8")


def test_bench_cli(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "--size", "1x2x10x10", "--dilations", "2", "--repeats", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "t(d)/t(1)" in out and "space_to_batch" in out
    assert main([*argv, "--json", "--impls", "native,phase"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["kind"] == "dilation-tax" and len(record["rows"]) == 4
    assert main(["bench", "--size", "4x4"]) == 2
    assert "--size must be" in capsys.readouterr().err
    assert main(["bench", "--device", "cuda:0"]) == 2 or torch.cuda.is_available()
