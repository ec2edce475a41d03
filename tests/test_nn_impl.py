"""The implementations of a dilated convolution (native, zero_kernel, space_to_batch, phase, auto)
against torch's own ``F.convNd``, values and gradients; the ``auto`` probe; the dilation tax."""

from __future__ import annotations

import copy
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
    monkeypatch.setattr(_impl, "AUTO_ROUNDS", 1)  # the probe's choice is not what is tested


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


def fake_timer(times: dict[str, list[float]], calls: list[str]):  # type: ignore[no-untyped-def]
    """An ``interleaved`` that reports fixed times per implementation (and counts its calls)."""

    def interleaved(fns, device, rounds):  # type: ignore[no-untyped-def]
        for impl, fn in fns.items():
            calls.append(impl)
            fn()  # the probe still runs the implementation once
        return {impl: times[impl] for impl in fns}

    return interleaved


def test_auto_picks_the_fastest_once_and_caches_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    times = {"native": [1.0, 1.1], "space_to_batch": [0.5, 0.5], "phase": [0.2, 0.3]}
    monkeypatch.setattr(_impl, "interleaved", fake_timer(times, calls))
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
    times = {"native": [1.0], "space_to_batch": [0.95], "phase": [0.93]}  # within the margin
    monkeypatch.setattr(_impl, "interleaved", fake_timer(times, calls))
    x, w = torch.randn(1, 2, 16, 16), torch.randn(2, 2, 3, 3)
    dilated_conv2d(x, w, padding="same", dilation=2, impl="auto")
    assert _impl.last_choice() == "native"


# The probe's rounds, as measured once on a shared CPU (ms): a burst of load in round 3 slowed
# native; best-of-3 with a 10% margin took space_to_batch (1.71 ms where native runs 1.09 ms).
NOISY = {"native": [1.09, 1.12, 1.93, 1.10, 1.09],
         "space_to_batch": [1.74, 1.71, 0.98, 1.72, 1.75],
         "phase": [4.8, 4.9, 4.7, 4.9, 4.8]}


@pytest.mark.parametrize(("times", "want"), [
    (NOISY, "native"),  # faster in one round only: noise, not speed
    ({"native": [1.0, 1.0, 1.0], "phase": [0.5, 0.5, 0.5]}, "phase"),
    ({"native": [1.0, 1.0, 1.0], "phase": [0.89, 0.91, 0.89]}, "native"),  # one round within 10%
    ({"native": [1.0, 1.0, 1.0], "phase": [0.95, 0.95, 0.95]}, "native"),  # 5%: not enough
    ({"native": [2.0, 1.0, 1.0], "phase": [0.85, 0.85, 0.85]}, "phase"),
    ({"native": [1.0, 1.0, 1.0], "space_to_batch": [0.6, 0.6, 0.6], "phase": [0.5, 0.95, 0.5]},
     "space_to_batch"),  # phase not faster in round 2
    ({"native": [1.0, 1.0], "phase": [0.5, 0.5], "space_to_batch": [0.5, 0.5]}, "phase"),  # tie
    ({"native": [], "phase": []}, "native"),  # no round timed
])
def test_decide_replaces_native_only_when_faster_in_every_round(
    times: dict[str, list[float]], want: str
) -> None:
    assert _impl.decide(times) == want
    assert _impl.decide(dict(times), margin=0.0) in times


@pytest.mark.parametrize("seed", range(4))
def test_a_choice_other_than_native_was_clearly_faster_every_round(seed: int) -> None:
    """Whatever the timings, a non-native choice was >= 10% faster than native in each round:
    so its median over the rounds is within 0.9x of native's, never slower."""
    gen = torch.Generator().manual_seed(seed)
    for _ in range(200):
        noise = (torch.rand(3, 5, generator=gen) * 1.5 + 0.5).tolist()
        times = dict(zip(_impl.AUTO_IMPLS, noise))
        got = _impl.decide(times)
        if got != "native":
            assert all(t <= 0.9 * n for t, n in zip(times[got], times["native"]))
            assert sorted(times[got])[2] <= 0.9 * sorted(times["native"])[2]


def test_interleaved_rotates_the_order_after_one_warm_up() -> None:
    order: list[str] = []
    fns = {name: (lambda name=name: order.append(name)) for name in "abc"}
    times = _impl.interleaved(fns, torch.device("cpu"), 4)
    assert "".join(order) == "abc" + "abc" + "bca" + "cab" + "abc"
    assert [len(t) for t in times.values()] == [4, 4, 4]
    assert all(t >= 0 for v in times.values() for t in v)


def test_auto_does_not_probe_undilated_meta_or_fake_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(_impl, "interleaved", fake_timer({}, calls))
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


def test_a_checked_signature_remembers_its_verdict_per_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After its first call, a call signature answers ``auto`` from its own verdicts by the
    input's dtype, device and layout; another shape, a cleared table, a copied module and a
    meta input go through choose() as before."""
    calls: list[str] = []
    monkeypatch.setattr(_impl, "interleaved", fake_timer(
        {"native": [1.0], "space_to_batch": [0.5], "phase": [0.2]}, calls))
    chosen: list[int] = []
    real_choose = _impl.choose
    monkeypatch.setattr(_impl, "choose", lambda *a: chosen.append(1) or real_choose(*a))
    torch.manual_seed(0)
    conv = DilatedConv2d(2, 3, 3, dilation=4, impl="auto")
    ref = DilatedConv2d(2, 3, 3, dilation=4)
    ref.load_state_dict(conv.state_dict())
    x = torch.randn(1, 2, 9, 9)
    assert torch.allclose(conv(x), ref(x), atol=1e-5)
    assert (len(calls), len(chosen), _impl.last_choice()) == (3, 1, "phase")
    assert torch.allclose(conv(x), ref(x), atol=1e-5)  # the signature's first repeat: choose()
    assert (len(calls), len(chosen)) == (3, 2)  # ... finds the global verdict, no probe
    _impl._LAST[0] = "native"
    assert torch.allclose(conv(x), ref(x), atol=1e-5)
    assert (len(calls), len(chosen), _impl.last_choice()) == (3, 2, "phase")  # remembered
    conv(x.to(memory_format=torch.channels_last))  # another layout: its own probe
    assert (len(calls), len(chosen)) == (6, 3)
    conv(x.double().float())  # the same kind of input again: nothing new
    assert (len(calls), len(chosen)) == (6, 3)
    conv(x[:, :, :8])  # another shape: a new probe
    assert (len(calls), len(chosen)) == (9, 4)
    copy.deepcopy(conv)(x)  # a copy shares the signature: nothing new
    assert (len(calls), len(chosen)) == (9, 4)
    clear_auto_choices()  # empties every signature's verdicts too
    conv(x)
    assert (len(calls), len(chosen)) == (12, 5)
    meta = copy.deepcopy(conv).to("meta")
    meta(torch.empty(1, 2, 9, 9, device="meta"))
    meta(torch.empty(1, 2, 9, 9, device="meta"))
    assert (len(calls), len(chosen), _impl.last_choice()) == (12, 7, "native")


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_auto_runs_native_while_tracing_after_a_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached non-native verdict (module cache or global) is not used under torch.jit.trace."""
    monkeypatch.setattr(_impl, "interleaved", fake_timer(
        {"native": [1.0], "space_to_batch": [0.5], "phase": [0.2]}, []))
    conv = DilatedConv2d(2, 2, 3, dilation=4, impl="auto").requires_grad_(False)
    x = torch.randn(1, 2, 9, 9)
    seen: list[str] = []

    def both(t: torch.Tensor) -> torch.Tensor:
        y = conv(t)
        seen.append(_impl.last_choice())
        y = y + dilated_conv2d(t, conv.weight, conv.bias, 1, "same", 4, impl="auto")
        seen.append(_impl.last_choice())
        return y

    with torch.no_grad():
        both(x)
        both(x)
        assert seen == ["phase"] * 4
        seen.clear()
        traced = torch.jit.trace(both, x, check_trace=False)
    assert seen == ["native", "native"]
    assert torch.allclose(traced(x), 2 * conv(x), atol=1e-5)


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
    assert tax.auto_lines()[0] == f"impl=auto picked: d=1 native, d=2 {tax.rows[5].chose}"
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
    assert "impl=auto picked: d=1 native, d=2 " in out and "auto / native at the same" in out
    assert main([*argv, "--json", "--impls", "native,phase"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["kind"] == "dilation-tax" and len(record["rows"]) == 4
    assert main(["bench", "--size", "4x4"]) == 2
    assert "--size must be" in capsys.readouterr().err
    assert main(["bench", "--device", "cuda:0"]) == 2 or torch.cuda.is_available()
