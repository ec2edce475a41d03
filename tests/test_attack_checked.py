"""Hostile calls against the functionals' table of checked call signatures
(``atrous.nn._impl._CHECKED``): a call after a remembered one must compute and refuse exactly
what the same call computes and refuses on an empty table (the reference: the same call after
``clear_auto_choices()``, and ``F.conv2d`` on explicitly padded input), the table must keep no
tensor alive and stay bounded, and tracers (torch.jit.trace, torch.compile, torch.export,
torch.fx, meta tensors) must see what they see on an empty table."""

from __future__ import annotations

import copy
import enum
import gc
import io
import pickle
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from atrous.nn import ASPP, DilatedConv1d, DilatedConv2d, _impl
from atrous.nn.functional import clear_auto_choices, dilated_conv1d, dilated_conv2d

IMPLS = ("native", "zero_kernel", "space_to_batch", "phase", "auto")


@pytest.fixture(autouse=True)
def _empty_table(monkeypatch: pytest.MonkeyPatch) -> Any:
    """An empty table, and impl="auto"'s probe deciding "phase" whatever it measured: a first
    call and a repeated one then agree unless the table is wrong (a real probe may decide
    otherwise from one call to the next under load), and auto runs a non-native kernel."""
    monkeypatch.setattr(_impl, "decide", lambda times, margin=0.1: "phase")
    clear_auto_choices()
    yield
    clear_auto_choices()


def _outcome(call: Callable[[], torch.Tensor]) -> tuple[str, Any]:
    """What a call gives: ("ok", its output) or (the error's type name, its message)."""
    try:
        return "ok", call()
    except Exception as exc:  # the very error is compared
        return type(exc).__name__, str(exc)


def _same(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == "ok":
        x, y = a[1], b[1]
        return bool(x.shape == y.shape and x.dtype == y.dtype and torch.equal(x, y))
    return bool(a[1] == b[1])


def _first_and_repeated(warm: Callable[[], Any], call: Callable[[], torch.Tensor]
                        ) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """``call`` on an empty table, then ``call`` after ``warm`` ran twice (remembered)."""
    clear_auto_choices()
    first = _outcome(call)
    clear_auto_choices()
    warm()
    warm()
    assert _impl._CHECKED, "the warm-up call should have been remembered"
    return first, _outcome(call)


X = torch.randn(1, 2, 9, 9, generator=torch.Generator().manual_seed(0))
W = torch.randn(2, 2, 3, 3, generator=torch.Generator().manual_seed(1))


def _plain() -> torch.Tensor:
    return dilated_conv2d(X, W, None, 1, 2, 2, 1, impl="native", padding_mode="zeros")


class _Liar:
    """No str, but equal to one and hashed like it: a dict lookup cannot tell it from the str."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return other == self.text

    def __hash__(self) -> int:
        return hash(self.text)


@pytest.mark.parametrize(("name", "text"), [("impl", "native"), ("padding_mode", "zeros")])
def test_an_option_equal_to_a_checked_str_but_no_str_is_still_refused(
    name: str, text: str
) -> None:
    """The key holds impl and padding_mode by equality: a repeated call with a non-str equal to
    the remembered str was run instead of refused (fixed: they must be exact strs, like the
    other arguments, for the remembered checks to apply)."""
    liar = _Liar(text)
    first, repeated = _first_and_repeated(
        _plain, lambda: dilated_conv2d(X, W, None, 1, 2, 2, 1, **{name: liar}))
    assert first[0] == "AtrousError" and f"{name} must be one of" in first[1]
    assert _same(first, repeated), repeated


class _Str(str):
    pass


class _ImplEnum(str, enum.Enum):
    native = "native"
    phase = "phase"


def test_str_subclasses_compute_as_a_first_call_and_are_not_kept() -> None:
    for kw in ({"impl": _Str("phase")}, {"impl": _ImplEnum.phase},
               {"padding_mode": _Str("reflect")}, {"padding": _Str("same")}):
        args: dict[str, Any] = {"stride": 1, "padding": 2, "dilation": 2, "impl": "phase",
                                "padding_mode": "reflect"}
        plain = dict(args)
        if "padding" in kw:
            plain["padding"] = "same"
        args.update(kw)
        first, repeated = _first_and_repeated(lambda p=plain: dilated_conv2d(X, W, **p),
                                              lambda a=args: dilated_conv2d(X, W, **a))
        assert first[0] == "ok" and _same(first, repeated), kw
        clear_auto_choices()  # only exact strs are kept (a subclass may carry state or methods)
        dilated_conv2d(X, W, **args)
        assert all(type(v) is str for k in _impl._CHECKED for v in k[4:] if isinstance(v, str))


class _Two(enum.IntEnum):
    two = 2


@pytest.mark.parametrize("change", [
    {"dilation": _Two.two}, {"dilation": np.int64(2)}, {"dilation": (np.int32(2), 2)},
    {"dilation": (_Two.two, _Two.two)}, {"padding": _Two.two}, {"groups": np.int8(1)},
    {"groups": True}, {"stride": True}, {"stride": (True, 1)}, {"dilation": (2, [2])},
    {"padding": (2, 2.0)}, {"padding": ((2, 2), [2, 2])}, {"dilation": torch.tensor(2)},
    {"padding": "same"}, {"padding": _Str("same")}, {"padding": _Str("valid")},
    {"impl": "zero_kernel"}, {"padding_mode": "circular"}, {"impl": "Native"},
    {"padding_mode": "zero"}, {"dilation": 0}, {"padding": -1}, {"groups": 2},
])
def test_integer_kinds_and_nested_lists_after_a_remembered_call(change: dict[str, Any]) -> None:
    args: dict[str, Any] = {"stride": 1, "padding": 2, "dilation": 2, "groups": 1}
    args.update(change)
    first, repeated = _first_and_repeated(_plain, lambda: dilated_conv2d(X, W, None, **args))
    assert _same(first, repeated), (first, repeated)


def test_other_tensors_of_a_remembered_shape() -> None:
    def conv(x: torch.Tensor, w: torch.Tensor = W, **kw: Any) -> Callable[[], torch.Tensor]:
        return lambda: dilated_conv2d(x, w, None, 1, "same", 2, **kw)

    cases = [
        conv(X[0]),  # unbatched
        conv(X.double()),  # a dtype the weight does not have: torch's own error, both times
        conv(X.double(), W.double()),
        conv(X.to("meta"), W.to("meta")),
        conv(X.contiguous(memory_format=torch.channels_last)),
        conv(X.contiguous(memory_format=torch.channels_last), impl="auto"),
        conv(X[..., ::1].transpose(2, 3), impl="space_to_batch"),
        conv(torch.nn.Parameter(X.clone())),
        conv(X.to(torch.bfloat16), W.to(torch.bfloat16), impl="phase"),
        conv(X.to(torch.int64), W.to(torch.int64)),
        conv(X, torch.nn.Parameter(W.clone())),
    ]
    for call in cases:
        first, repeated = _first_and_repeated(conv(X), call)
        if first[0] == "ok" and first[1].is_meta:
            assert repeated[0] == "ok" and repeated[1].shape == first[1].shape
            continue
        assert _same(first, repeated), (first[0], repeated[0])


def test_gradients_and_grad_modes_after_a_remembered_call() -> None:
    for impl in IMPLS:
        grads = []
        for warm in (False, True):
            clear_auto_choices()
            if warm:
                with torch.no_grad():
                    dilated_conv2d(X, W, None, 1, "same", 2, impl=impl)
                    dilated_conv2d(X, W, None, 1, "same", 2, impl=impl)
            x, w = X.clone().requires_grad_(), W.clone().requires_grad_()
            y = dilated_conv2d(x, w, None, 1, "same", 2, impl=impl)
            (y * torch.arange(y.numel()).reshape(y.shape)).sum().backward()
            assert x.grad is not None and w.grad is not None
            grads.append((y.detach(), x.grad, w.grad))
        for a, b in zip(*grads):
            assert torch.allclose(a, b, atol=1e-5), impl
    # the reference: autograd of F.conv2d on the padded input
    x, w = X.clone().requires_grad_(), W.clone().requires_grad_()
    y = F.conv2d(F.pad(x, [2, 2, 2, 2]), w, None, 1, 0, 2)
    (y * torch.arange(y.numel()).reshape(y.shape)).sum().backward()
    assert torch.allclose(grads[1][1], x.grad, atol=1e-4)  # type: ignore[arg-type]
    assert torch.allclose(grads[1][2], w.grad, atol=1e-4)  # type: ignore[arg-type]


def test_the_table_keeps_no_tensor_alive() -> None:
    refs = []
    for impl in IMPLS:
        x = torch.randn(1, 2, 9, 9, requires_grad=True)
        w, b = torch.randn(2, 2, 3, 3, requires_grad=True), torch.randn(2)
        for _ in range(3):
            y = dilated_conv2d(x, w, b, 1, "same", 2, impl=impl)
        refs += [weakref.ref(t) for t in (x, w, b, y)]
        del x, w, b, y
    gc.collect()
    assert all(r() is None for r in refs)
    assert len(_impl._CHECKED) == len(IMPLS)


def test_modules_changed_after_calls() -> None:
    torch.manual_seed(2)
    m = DilatedConv2d(2, 3, 3, padding="same", dilation=2, impl="auto")
    x = torch.randn(1, 2, 9, 9)
    for change in ("deepcopy", "pickle", "double", "weight5", "state"):
        m(x)
        m(x)
        if change == "deepcopy":
            other, arg = copy.deepcopy(m), x
        elif change == "pickle":
            buf = io.BytesIO()
            torch.save(m, buf)
            buf.seek(0)
            other, arg = torch.load(buf, weights_only=False), x
            assert torch.equal(pickle.loads(pickle.dumps(m))(x), other(x))
        elif change == "double":
            other, arg = copy.deepcopy(m).double(), x.double()
        elif change == "weight5":
            other, arg = copy.deepcopy(m), x
            other.weight.data = torch.randn(3, 2, 5, 5)
        else:
            other, arg = DilatedConv2d(2, 3, 3, padding="same", dilation=2, impl="auto"), x
            other.load_state_dict(m.state_dict())
        repeated = _outcome(lambda m=other, t=arg: m(t))
        clear_auto_choices()
        first = _outcome(lambda m=other, t=arg: m(t))
        assert _same(first, repeated), change
        if first[0] == "ok":
            pads = [2, 2, 2, 2]
            want = F.conv2d(F.pad(arg, pads), other.weight, other.bias, 1, 0, 2)
            assert torch.allclose(first[1], want, atol=1e-6), change


def test_meta_tensors_and_analyze_after_real_calls() -> None:
    import atrous

    net = torch.nn.Sequential(DilatedConv2d(2, 4, 3, padding="same", dilation=2, impl="auto"),
                              DilatedConv2d(4, 4, 3, padding="same", dilation=3))
    x = torch.randn(1, 2, 16, 16)
    net(x)
    net(x)
    text = atrous.analyze(net, (1, 2, 16, 16)).to_json()
    clear_auto_choices()
    assert atrous.analyze(net, (1, 2, 16, 16)).to_json() == text
    assert torch.equal(net(x), net(x))
    meta = copy.deepcopy(net).to("meta")
    assert meta(x.to("meta")).shape == (1, 4, 16, 16)
    assert not any(v for e in _impl._CHECKED.values() for v in e.verdicts if v[1] is not True)


def test_fx_trace_of_modules_after_calls() -> None:
    import torch.fx

    torch.manual_seed(3)
    net = torch.nn.Sequential(  # (torch.fx cannot trace ASPP's impl != "native" branches)
        DilatedConv2d(2, 3, 3, padding="same", dilation=2, impl="phase"),
        DilatedConv2d(3, 3, 3, padding="same", dilation=3, impl="auto"), ASPP(3, 4, rates=(2, 3)))
    net.eval()
    x = torch.randn(1, 2, 12, 12)
    want = net(x)
    net(x)
    graph = torch.fx.symbolic_trace(net)
    assert torch.allclose(graph(x), want, atol=1e-6)
    assert not any(type(n) is not int for k in _impl._CHECKED for n in k[1])


def test_unbatched_and_batched_share_nothing() -> None:
    x1, w1 = torch.randn(3, 20), torch.randn(4, 3, 3)
    want = F.conv1d(F.pad(x1[None], [4, 4]), w1, None, 1, 0, 4)[0]
    for _ in range(3):
        assert torch.allclose(dilated_conv1d(x1, w1, padding="same", dilation=4), want, atol=1e-5)
        assert dilated_conv1d(x1[None], w1, padding="same", dilation=4).shape == (1, 4, 20)
    m = DilatedConv1d(3, 4, 3, padding="same", dilation=4)
    assert m(x1).shape == (4, 20) and m(x1[None]).shape == (1, 4, 20)


def test_threads_share_the_table() -> None:
    errors: list[object] = []

    def worker(k: int) -> None:
        gen = torch.Generator().manual_seed(k)
        try:
            for i in range(60):
                n, d = 6 + (i + k) % 5, 1 + i % 3
                x = torch.randn(1, 2, n, n, generator=gen)
                w = torch.randn(2, 2, 3, 3, generator=gen)
                y = dilated_conv2d(x, w, None, 1, "same", d, impl=IMPLS[(i + k) % 5])
                if not torch.allclose(y, F.conv2d(x, w, None, 1, d, d), atol=1e-5):
                    errors.append((k, i))
                if i % 25 == 24:
                    clear_auto_choices()
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def _tensors_in_table() -> list[object]:
    def walk(value: object) -> Any:
        if isinstance(value, (tuple, list)):
            for v in value:
                yield from walk(v)
        else:
            yield value

    found = [v for key in _impl._CHECKED for v in walk(key) if isinstance(v, torch.Tensor)]
    for entry in _impl._CHECKED.values():
        found += [v for v in walk((entry.given, entry.args, tuple(entry.verdicts)))
                  if isinstance(v, torch.Tensor)]
    return found


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_jit_trace_leaves_no_tensor_in_the_table() -> None:
    """While torch.jit.trace runs, ``x.shape`` is a torch.Size of 0-dim tensors: the table kept
    them (and torch.compile/export then failed on the table); fixed: only int shapes are kept."""
    torch.manual_seed(4)
    net = torch.nn.Sequential(DilatedConv2d(2, 3, 3, padding="same", dilation=2),
                              DilatedConv2d(3, 3, 3, padding="same", dilation=2, impl="auto"))
    x = torch.randn(1, 2, 9, 9)
    want = net(x)
    clear_auto_choices()
    traced = torch.jit.trace(net, x, check_trace=False)
    assert not _tensors_in_table()
    assert torch.allclose(traced(x), want, atol=1e-6)
    net(x)  # and after real calls, tracing again
    net(x)
    traced = torch.jit.trace(net, x, check_trace=False)
    assert not _tensors_in_table()
    assert torch.allclose(traced(x), want, atol=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning",
                            "ignore:While compiling, we found certain side effects:UserWarning")
@pytest.mark.slow
def test_strict_export_after_a_jit_trace() -> None:
    torch.manual_seed(5)
    net = torch.nn.Sequential(DilatedConv2d(2, 3, 3, padding="same", dilation=2, impl="auto"))
    x = torch.randn(1, 2, 9, 9)
    torch.jit.trace(net, x, check_trace=False)
    exported = torch.export.export(net, (x,), strict=True)
    want = F.conv2d(F.pad(x, [2, 2, 2, 2]), net[0].weight, net[0].bias, 1, 0, 2)
    assert torch.allclose(exported.module()(x), want, atol=1e-6)


def _compiled(net: torch.nn.Module) -> tuple[Callable[..., torch.Tensor], list[Any]]:
    """``torch.compile(net)`` with a backend that records each graph it is given."""
    import torch._dynamo

    torch._dynamo.reset()
    graphs: list[Any] = []

    def backend(gm: torch.fx.GraphModule, inputs: list[torch.Tensor]) -> Callable[..., Any]:
        graphs.append(gm)
        return gm.forward

    return torch.compile(net, backend=backend), graphs


@pytest.mark.slow
def test_compile_runs_native_even_with_a_remembered_verdict() -> None:
    """torch.compile traces ``native`` for impl="auto" on an empty table; with an eager call's
    "phase" verdict remembered, the compiled graph held the phase decomposition (fixed: the table
    is not used while torch.compile traces)."""
    torch.manual_seed(6)
    net = DilatedConv2d(2, 3, 3, padding="same", dilation=2, impl="auto")
    x = torch.randn(1, 2, 9, 9)
    net(x)
    net(x)
    assert _impl.last_choice() == "phase"
    compiled, graphs = _compiled(net)
    y = compiled(x)
    ops = {str(n.target) for g in graphs for n in g.graph.nodes if n.op == "call_function"}
    assert ops == {str(torch.conv2d)}, ops
    assert torch.equal(y, F.conv2d(x, net.weight, net.bias, 1, 2, 2))


@pytest.mark.slow
def test_a_compiled_model_compiles_once() -> None:
    """The first compiled call stored its signature in the table, which the graph guarded on:
    the second call compiled again (and clear_auto_choices() a third time)."""
    torch.manual_seed(7)
    net = torch.nn.Sequential(DilatedConv2d(2, 3, 3, padding="same", dilation=2),
                              DilatedConv2d(3, 3, 3, padding="same", dilation=3, impl="auto"))
    x = torch.randn(1, 2, 9, 9)
    want = net(x)
    compiled, graphs = _compiled(net)
    for _ in range(3):
        assert torch.allclose(compiled(x), want, atol=1e-6)
    clear_auto_choices()
    dilated_conv2d(x, torch.randn(1, 2, 3, 3), dilation=2)  # another signature meanwhile
    assert torch.allclose(compiled(x), want, atol=1e-6)
    assert len(graphs) == 1
    assert not _impl._CHECKED or all(k[1] != x.shape or k[2] != (3, 2, 3, 3)
                                     for k in _impl._CHECKED)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_a_trace_in_another_thread_leaves_no_native_verdict() -> None:
    """Whether a verdict may be remembered is read from the global ``_LAST`` after ``choose``
    returns; a torch.jit.trace in one thread, paused right after its ``choose`` decided "native"
    (tracing: never a verdict) while an eager call in another thread probes, must not leave that
    "native" as the signature's verdict (held: a traced call's shapes are tensors, so it never
    reaches a remembered entry)."""
    torch.manual_seed(8)
    x, w = torch.randn(1, 2, 9, 9), torch.randn(2, 2, 3, 3)

    def call(t: torch.Tensor) -> torch.Tensor:
        return dilated_conv2d(t, w, None, 1, 2, 2, impl="auto")

    call(x)  # the signature is checked; its entry has no verdict yet
    paused, resume = threading.Event(), threading.Event()

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "return" and not paused.is_set():
            paused.set()  # the traced call just decided "native"; let the eager call run
            resume.wait(10)
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        code = frame.f_code
        if event == "call" and "choose" in code.co_name and code.co_filename == _impl.__file__:
            return local
        return None

    def trace_in_thread() -> None:
        sys.settrace(tracer)
        try:
            torch.jit.trace(call, x, check_trace=False)
        finally:
            sys.settrace(None)

    thread = threading.Thread(target=trace_in_thread)
    thread.start()
    try:
        assert paused.wait(10)
        call(x)  # an eager call meanwhile: the probe's "phase", remembered
    finally:
        resume.set()
        thread.join()
    assert _impl.last_choice() == "phase"
    y = call(x)
    assert _impl.last_choice() == "phase"
    clear_auto_choices()
    assert torch.equal(y, call(x)) and _impl.last_choice() == "phase"


@pytest.mark.parametrize("impl", IMPLS)
def test_every_impl_gives_natives_dtype_and_layout(impl: str) -> None:
    """Under autocast the native kernel gives bfloat16; "phase" wrote its convolutions into a
    float32 buffer made from the input, so impl="auto" gave bfloat16 or float32 by its verdict;
    and "phase" gave a contiguous result for a channels_last input where native keeps
    channels_last (fixed: the buffer takes the first convolution's dtype and layout)."""
    torch.manual_seed(9)
    x, w, b = torch.randn(2, 4, 11, 10), torch.randn(6, 2, 3, 3), torch.randn(6)
    for fmt in (torch.contiguous_format, torch.channels_last):
        xf = x.contiguous(memory_format=fmt)
        for cast in (False, True):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cast):
                want = F.conv2d(F.pad(xf, [3, 3, 2, 2]), w, b, (1, 2), 0, (2, 3), 2)
                got = [dilated_conv2d(xf, w, b, (1, 2), ((2, 2), (3, 3)), (2, 3), 2,
                                      impl=impl) for _ in range(2)]
            for y in got:
                assert y.dtype == want.dtype and y.shape == want.shape, (impl, fmt, cast)
                assert torch.allclose(y.float(), want.float(), atol=0.1 if cast else 1e-5)
                assert y.is_contiguous(memory_format=fmt) == want.is_contiguous(
                    memory_format=fmt) or impl == "space_to_batch", (impl, fmt, cast)


@pytest.mark.parametrize("impl", IMPLS)
def test_vmap_and_func_grad_after_remembered_calls(impl: str) -> None:
    """Under torch.func.vmap ``x.shape`` is one example's, a remembered unbatched signature's;
    "phase" (and so "auto", whose probe runs it) raised there: it wrote the batched parts into
    a plain buffer (fixed: the buffer is made by ``new_empty`` of a part)."""
    torch.manual_seed(10)
    xs, w = torch.randn(4, 2, 9, 9), torch.randn(3, 2, 3, 3)

    def conv(x: torch.Tensor) -> torch.Tensor:
        return dilated_conv2d(x, w, None, 1, "same", 2, impl=impl)

    want = F.conv2d(xs, w, None, 1, 2, 2)
    first, repeated = _first_and_repeated(lambda: conv(xs[0]), lambda: torch.vmap(conv)(xs))
    assert first[0] == "ok" and _same(first, repeated), (first[0], repeated[0])
    assert torch.allclose(first[1], want, atol=1e-5)
    grad = torch.func.grad(lambda x: conv(x).square().sum())
    first, repeated = _first_and_repeated(lambda: conv(xs[0]), lambda: grad(xs[0]))
    x = xs[0].clone().requires_grad_()
    F.conv2d(x[None], w, None, 1, 2, 2).square().sum().backward()
    assert first[0] == "ok" and _same(first, repeated)
    assert torch.allclose(first[1], x.grad, atol=1e-4)  # type: ignore[arg-type]


def test_autos_verdicts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every new input shape (and every new layout of a remembered one) under impl="auto" kept
    a verdict forever: the probe's table grew without bound, and so did a signature's verdicts
    by strides (fixed: both start afresh when full, like the table of signatures)."""
    monkeypatch.setattr(_impl, "probe", lambda run, device: {"native": [1.0], "phase": [0.5]})
    w = torch.randn(1, 1, 3, 3)
    for n in range(5, 5 + _impl._CHECKED_MAX + 40):
        dilated_conv2d(torch.randn(1, 1, 5, n), w, padding="same", dilation=2, impl="auto")
    assert 0 < len(_impl._CHOICE) <= _impl._CHECKED_MAX
    base = torch.randn(9 * 90)
    for width in range(9, 9 + 80):  # one shape, 80 layouts (row strides)
        x = base.as_strided((1, 1, 9, 9), (9 * width, 9 * width, width, 1))
        y = dilated_conv2d(x, w, padding="same", dilation=2, impl="auto")
        assert torch.allclose(y, F.conv2d(x, w, None, 1, 2, 2), atol=1e-5)
    entries = [e for k, e in _impl._CHECKED.items() if k[1] == (1, 1, 9, 9)]
    assert entries and all(0 < len(e.verdicts) <= _impl._VERDICTS_MAX for e in entries)


def test_every_module_kind_repeats_its_first_call() -> None:
    """Modules built of the functionals (separable, grouped, ASPP with every impl): a forward
    after remembered ones equals a forward on an empty table, and ASPP's impls equal its native
    (the same state dict)."""
    from atrous.nn import FlattenedConv, GroupedConv2d, SeparableConv2d, SpatialSeparableConv2d

    torch.manual_seed(11)
    x = torch.randn(2, 8, 13, 12)
    nets: list[torch.nn.Module] = [
        SeparableConv2d(8, 6, 3, padding="same", dilation=2),
        SpatialSeparableConv2d(8, 6, (3, 5), stride=2, dilation=(2, 1)),
        FlattenedConv(8, 6, 3),
        GroupedConv2d(8, 8, 3, groups=4, shuffle=True, dilation=3),
        DilatedConv2d(8, 6, 3, padding="same", dilation=2, padding_mode="reflect", impl="phase"),
    ]
    torch.manual_seed(12)
    native = ASPP(8, 4, rates=(2, 3, 5)).eval()
    for impl in IMPLS:
        for separable in (False, True):
            aspp = ASPP(8, 4, rates=(2, 3, 5), impl=impl, separable=separable).eval()
            if not separable:
                aspp.load_state_dict(native.state_dict())
            nets.append(aspp)
    want = native(x)
    for net in nets:
        net.eval()
        net(x)
        net(x)
        repeated = net(x)
        clear_auto_choices()
        first = net(x)
        assert torch.equal(first, repeated), type(net).__name__
        if isinstance(net, ASPP) and not any(
                isinstance(m, torch.nn.Conv2d) and m.groups > 1 for m in net.modules()):
            assert torch.allclose(first, want, atol=1e-5), net.convs[1]


@pytest.mark.filterwarnings("ignore:While compiling, we found certain side effects:UserWarning")
@pytest.mark.slow
@pytest.mark.parametrize("strict", [False, True])
def test_export_after_a_remembered_verdict_holds_the_native_kernel(strict: bool) -> None:
    torch.manual_seed(13)
    net = torch.nn.Sequential(DilatedConv2d(2, 3, 3, padding="same", dilation=2, impl="auto"))
    x = torch.randn(1, 2, 9, 9)
    net(x)
    net(x)
    assert _impl.last_choice() == "phase"
    graph = torch.export.export(net, (x,), strict=strict).graph
    ops = {str(n.target) for n in graph.nodes if n.op == "call_function"}
    assert ops == {"aten.conv2d.default"}, ops
