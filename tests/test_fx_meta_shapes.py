"""The size-formula shortcuts of the fx shape run (``atrous.fx.meta_shapes``) against torch's own
meta kernels: the same shape, strides and dtype on every covered call, None (torch decides) on
the unusual ones, and a CNN's shape run answered without any of torch's Python meta kernels."""

from __future__ import annotations

import operator
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from atrous.errors import AtrousError
from atrous.fx import meta_shapes, to_graph, tracing


def meta(*shape: int) -> torch.Tensor:
    return torch.empty(shape, device="meta")


def same(got: Any, want: torch.Tensor) -> bool:
    return (got is not None and got.is_meta and got.shape == want.shape
            and got.stride() == want.stride() and got.dtype == want.dtype)


def on_meta(mod: nn.Module) -> nn.Module:
    return mod.to("meta")


MODULES = [
    (nn.Conv2d(4, 6, 3, stride=2, padding=1), (2, 4, 11, 9)),
    (nn.Conv2d(4, 8, (3, 5), dilation=(2, 3), padding=(1, 0), groups=2), (1, 4, 17, 20)),
    (nn.Conv2d(4, 4, 3, padding="same", dilation=2, padding_mode="reflect"), (1, 4, 9, 9)),
    (nn.Conv1d(2, 3, 4, stride=3), (1, 2, 31)),
    (nn.Conv3d(1, 2, 3, padding=1, stride=(1, 2, 2)), (1, 1, 4, 7, 7)),
    (nn.MaxPool2d(3, 2, 1), (1, 3, 112, 112)),
    (nn.MaxPool2d(3, 2, ceil_mode=True), (1, 3, 56, 56)),
    (nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True), (1, 3, 14, 15)),
    (nn.MaxPool1d(2), (1, 3, 9)),
    (nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False), (1, 3, 7, 8)),
    (nn.AvgPool3d(2, 1, 1), (1, 1, 3, 4, 5)),
    (nn.AdaptiveAvgPool2d(1), (2, 5, 7, 7)),
    (nn.AdaptiveAvgPool2d((3, None)), (2, 5, 7, 9)),
    (nn.AdaptiveMaxPool1d(4), (1, 2, 10)),
    (nn.Linear(6, 3), (2, 6)),
    (nn.Linear(6, 3), (2, 5, 5, 6)),
]


@pytest.mark.parametrize(("mod", "shape"), MODULES,
                         ids=[f"{type(m).__name__}-{i}" for i, (m, _) in enumerate(MODULES)])
def test_module_shortcut_equals_torch_meta(mod: nn.Module, shape: tuple[int, ...]) -> None:
    mod = on_meta(mod)
    x = meta(*shape)
    assert same(meta_shapes.module_shortcut(mod, (x,), {}), mod(x))


def test_linear_on_a_permuted_input_gives_torch_layout() -> None:
    mod = on_meta(nn.Linear(6, 3))
    x = meta(1, 6, 4, 4).permute(0, 2, 3, 1)
    assert same(meta_shapes.module_shortcut(mod, (x,), {}), mod(x))


@pytest.mark.parametrize(("mod", "x"), [
    (nn.Conv2d(4, 6, 3), meta(1, 5, 8, 8)),  # wrong channel count: torch's error
    (nn.Conv2d(4, 6, 5), meta(1, 4, 3, 3)),  # input smaller than the kernel
    (nn.Conv2d(4, 6, 3), meta(4, 8, 8)),  # unbatched
    (nn.Conv2d(4, 6, 3, padding="valid"), meta(1, 4, 8, 8)),
    (nn.Conv2d(4, 6, 3), meta(1, 4, 8, 8).to(memory_format=torch.channels_last)),
    (nn.MaxPool2d(2, return_indices=True), meta(1, 3, 8, 8)),
    (nn.MaxPool2d(2, padding=2), meta(1, 3, 8, 8)),  # padding over half the kernel
    (nn.AdaptiveAvgPool2d(2), meta(1, 3, 0, 4)),
    (nn.AdaptiveAvgPool2d(None), meta(1, 3, 5, 4)),  # torch's TypeError
    (nn.AdaptiveMaxPool1d((None,)), meta(1, 3, 5)),  # 1-d takes ints alone
    (nn.Linear(6, 3), meta(2, 5)),
    (nn.ConvTranspose2d(4, 4, 2), meta(1, 4, 8, 8)),  # not covered
], ids=["channels", "too-small", "unbatched", "valid", "channels-last", "indices", "padding",
        "empty", "bare-none", "none-in-1d", "features", "transposed"])
def test_module_shortcut_leaves_the_unusual_to_torch(mod: nn.Module, x: torch.Tensor) -> None:
    assert meta_shapes.module_shortcut(on_meta(mod), (x,), {}) is None


def test_a_hook_or_patched_forward_goes_to_torch() -> None:
    mod = on_meta(nn.Conv2d(2, 2, 3))
    x = meta(1, 2, 8, 8)
    handle = mod.register_forward_pre_hook(lambda m, a: None)
    assert meta_shapes.module_shortcut(mod, (x,), {}) is None
    handle.remove()
    assert meta_shapes.module_shortcut(mod, (x,), {}) is not None
    mod.forward = lambda t: t
    assert meta_shapes.module_shortcut(mod, (x,), {}) is None


FUNCTIONS = [
    (operator.add, (meta(2, 8, 5, 5), meta(2, 8, 5, 5)), {}),
    (operator.mul, (meta(2, 8, 5, 5), meta(2, 8, 1, 1).expand(2, 8, 5, 5)), {}),
    (operator.mul, (meta(2, 8, 1, 1), meta(2, 8, 5, 5)), {}),
    (operator.truediv, (meta(8, 1, 1), meta(2, 8, 5, 5)), {}),
    (torch.add, (meta(3, 1), meta(3, 4)), {}),
    (torch.mean, (meta(2, 8, 5, 5), (2, 3)), {"keepdim": True}),
    (torch.mean, (meta(2, 8, 5, 5),), {"dim": -1}),
    (torch.cat, ([meta(1, 2, 4, 4), meta(1, 3, 4, 4)],), {"dim": 1}),
    (torch.cat, ((meta(2, 4), meta(3, 4)),), {}),
    (F.interpolate, (meta(1, 3, 5, 7),), {"size": (10, 14), "mode": "bilinear",
                                          "align_corners": False}),
    (F.interpolate, (meta(1, 3, 5),), {"size": 9}),
    (operator.add, (meta(2, 3), 1.0), {}),
    (F.interpolate, (meta(1, 3, 5, 7),), {"scale_factor": 2.0}),
]


@pytest.mark.parametrize(("fn", "args", "kwargs"), FUNCTIONS,
                         ids=[f"{getattr(f, '__name__', 'fn')}-{i}"
                              for i, (f, _, _) in enumerate(FUNCTIONS)])
def test_function_shortcut_equals_torch_meta(fn: Any, args: tuple, kwargs: dict) -> None:
    assert same(meta_shapes.function_shortcut(fn, args, kwargs), fn(*args, **kwargs))


@pytest.mark.parametrize(("fn", "args", "kwargs"), [
    (operator.add, (meta(2, 3), meta(4, 3)), {}),  # does not broadcast: torch's error
    (operator.add, (meta(2, 3), True), {}),  # a bool number
    (operator.add, (meta(1, 2, 3, 3).to(memory_format=torch.channels_last), meta(1, 2, 3, 3)),
     {}),
    (operator.add, (meta(2, 8, 5, 5).permute(0, 2, 3, 1), meta(8)), {}),
    (torch.add, (meta(2, 3), meta(2, 3)), {"alpha": 2}),
    (torch.mean, (meta(2, 3), (1, 1)), {}),  # a repeated axis
    (torch.mean, (meta(2, 3), 1), {"dtype": torch.float64}),
    (torch.cat, ([meta(1, 2, 4, 4), meta(1, 2, 5, 4)],), {"dim": 1}),
    (F.interpolate, (meta(1, 3, 5, 7),), {"scale_factor": 2.0, "antialias": True}),
    (F.interpolate, (meta(1, 3, 5, 7),), {"size": (10, 14), "mode": "linear"}),
    (F.interpolate, (meta(1, 3, 5, 7),), {"size": (10, 14), "align_corners": True}),
], ids=["no-broadcast", "bool-number", "channels-last", "permuted", "alpha", "repeated-axis",
        "dtype", "sizes-differ", "antialias", "mode", "align-corners"])
def test_function_shortcut_leaves_the_unusual_to_torch(fn: Any, args: tuple,
                                                       kwargs: dict) -> None:
    assert meta_shapes.function_shortcut(fn, args, kwargs) is None


def test_method_mean() -> None:
    x = meta(2, 8, 5, 5)
    assert same(meta_shapes.method_shortcut("mean", (x, (2, 3)), {"keepdim": True}),
                x.mean((2, 3), keepdim=True))
    assert meta_shapes.method_shortcut("std", (x, 1), {}) is None


class SENet(nn.Module):
    """Stem, a residual block with an SE gate, a pooled classifier and a resized side output."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.fc1, self.fc2 = nn.Conv2d(8, 2, 1), nn.Conv2d(2, 8, 1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.stem(x)
        y = self.conv(f)
        y = y * torch.sigmoid(self.fc2(F.relu(self.fc1(y.mean((2, 3), keepdim=True)))))
        f = torch.cat([f, f + y], 1)
        side = F.interpolate(f, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(f), side


def test_a_cnn_shape_run_needs_no_torch_meta_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every conv, pool, linear, arithmetic, mean, cat and resize of a CNN is answered by a
    formula (so the first analysis of a process imports no sympy), and the graph is the one the
    meta kernels give."""
    model = SENet().eval()
    with monkeypatch.context() as torch_only:  # the meta kernels alone
        for name in ("module_shortcut", "function_shortcut", "method_shortcut"):
            torch_only.setattr(tracing, name, lambda *a: None)
        want = to_graph(model, (1, 3, 64, 64))
    ran: list[str] = []
    recorder = tracing._recorder_class()
    base = recorder.__mro__[1]

    def spy(kind: str) -> Any:
        real = getattr(base, kind)

        def call(self: Any, target: Any, args: Any, kwargs: Any) -> Any:
            name = (type(self.fetch_attr(target)).__name__ if kind == "call_module"
                    else getattr(target, "__name__", str(target)))
            ran.append(name)
            return real(self, target, args, kwargs)

        return call

    for kind in ("call_module", "call_function", "call_method"):
        monkeypatch.setattr(base, kind, spy(kind))
    got = to_graph(model, (1, 3, 64, 64))
    # left to torch: a view (a C++ kernel) and reading x.shape[-2:] (plain Python)
    assert sorted(set(ran)) == ["Flatten", "getattr", "getitem"]
    assert [(n.name, n.layer, n.inputs) for n in got.topological()] == [
        (n.name, n.layer, n.inputs) for n in want.topological()]
    assert [n.meta.get("shape") for n in got.topological()] == [
        n.meta.get("shape") for n in want.topological()]


def test_pool_formula_equals_torch_over_a_parameter_grid() -> None:
    """Every max/avg pool of a small grid (kernel, stride, padding, dilation, ceil mode, input
    size): the formula's output is torch's, and where torch refuses the formula gives None."""
    import itertools

    answered = 0
    for k, s, p, d, ceil, n in itertools.product((1, 2, 3, 4), (1, 2, 3), (0, 1, 2), (1, 2),
                                                 (False, True), (4, 5, 6, 7)):
        x = meta(1, 2, n, n + 1)
        pools: list[nn.Module] = [nn.MaxPool2d(k, s, p, dilation=d, ceil_mode=ceil)]
        if d == 1:
            pools.append(nn.AvgPool2d(k, s, p, ceil_mode=ceil))
        for pool in pools:
            got = meta_shapes.module_shortcut(pool, (x,), {})
            try:
                want = pool(x)
            except RuntimeError:
                assert got is None, (pool, n)
                continue
            if got is not None:
                assert same(got, want), (pool, n)
                answered += 1
    assert answered > 500  # the formula answers nearly all of them


def test_a_gated_stack_is_analysed_without_importing_sympy_or_dynamo() -> None:
    """WaveNet's gate (``gated_activation``) on meta tensors gives torch's shape without its
    Python meta kernels, whose first call imports sympy and torch._dynamo (about 1.5 s); so does
    a CNN written with torch's functionals (:class:`Functionals`), analysed in the same fresh
    process."""
    import pathlib
    import subprocess
    import sys

    code = (
        "import sys, atrous\n"
        "from atrous.nn import CausalDilatedStack\n"
        "m = CausalDilatedStack(4, dilations=(1, 2, 4), gated=True).eval()\n"
        "rf = atrous.receptive_field(m, (1, 4, 40))\n"
        "print(rf.box(0), 'sympy' in sys.modules, 'torch._dynamo' in sys.modules)\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from test_fx_meta_shapes import Functionals\n"
        "rfs = atrous.receptive_fields(Functionals().eval(), (1, 3, 40, 36))\n"
        "print(len(rfs), 'sympy' in sys.modules, 'torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(pathlib.Path(__file__).parent)],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[-5:-3] == ["False", "False"], out  # the gated stack
    assert out[-2:] == ["False", "False"], out  # and then the functional CNN
    from atrous.nn.functional import gated_activation

    z = torch.randn(2, 6, 5, 3)
    assert gated_activation(z.to("meta")).shape == gated_activation(z).shape == (2, 3, 5, 3)
    assert gated_activation(z.to("meta")).dtype == gated_activation(z).dtype


class _AtrousFunctionals(nn.Module):
    """Every functional of atrous.nn with a shape formula, batched and unbatched arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.w2 = nn.Parameter(torch.randn(6, 2, 3, 3))
        self.dw = nn.Parameter(torch.randn(12, 1, 3, 3))
        self.w1 = nn.Parameter(torch.randn(4, 6, 2))
        self.w3 = nn.Parameter(torch.randn(2, 6, 1, 3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from atrous.nn import functional as AF

        y = AF.dilated_conv2d(x, self.w2, None, (2, 1), "same", (2, 3), 2)
        y = AF.depthwise_conv2d(y, self.dw, None, 1, ((1, 2), (0, 3)), 2)
        g = AF.gated_activation(y)  # 12 -> 6 channels
        t = g.flatten(2)
        t = AF.causal_dilated_conv1d(t, self.w1, None, 3)
        t = AF.dilated_conv1d(t, self.w1[:, :4], None, 2, 1, 2)
        v = AF.dilated_conv3d(g.unsqueeze(2), self.w3, None, 1, (0, 1, 1), (1, 2, 1))
        return t.sum() + v.sum()


def test_atrous_functionals_by_formula_equal_torchs_meta_kernels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shape formulas registered by atrous.nn give the graph torch's meta kernels give, and
    a call they do not cover (an integer input) still runs."""
    from atrous.nn import functional as AF  # before tracing: torch.fx wraps what is imported
    from atrous.nn._dilated import meta_conv

    model = _AtrousFunctionals()
    got = to_graph(model, (1, 4, 11, 13))
    with monkeypatch.context() as torch_only:
        torch_only.setattr(meta_shapes, "_REGISTERED", {})
        want = to_graph(model, (1, 4, 11, 13))
    assert [(n.name, n.layer, n.inputs, n.meta.get("shape")) for n in got.topological()] == [
        (n.name, n.layer, n.inputs, n.meta.get("shape")) for n in want.topological()]
    x, w = torch.empty(1, 2, 9, 9, device="meta"), torch.empty(3, 2, 3, 3, device="meta")
    assert meta_conv(2, x.long(), w.long()) is None  # torch decides
    assert meta_conv(2, x, w.double()) is None
    assert meta_conv(2, torch.empty(1, 2, 9, 9), w) is None
    with pytest.raises(Exception, match="groups must divide"):
        meta_conv(2, x, w, None, 1, 0, 1, 2)
    out = meta_conv(2, x, w, None, 1, 0, 2)
    assert out is not None and out.shape == AF.dilated_conv2d(x, w, None, 1, 0, 2).shape



@pytest.mark.parametrize("dilation", [0, -1, 2.0])
def test_the_causal_formula_refuses_as_the_call_does(dilation: Any) -> None:
    """``causal_dilated_conv1d`` checks its dilation before anything else: the shape run's
    formula refused a dilation of 0 with wrong groups for the groups (the call: the dilation)."""
    from atrous.nn import functional as AF
    from atrous.nn._fx_register import _causal_shape

    x, w = torch.zeros(2, 4, 9), torch.zeros(6, 1, 3)
    with pytest.raises(AtrousError) as real:
        AF.causal_dilated_conv1d(x, w, None, dilation, 3)
    with pytest.raises(AtrousError) as meta:
        _causal_shape(x.to("meta"), w.to("meta"), None, dilation, 3)
    assert str(meta.value) == str(real.value) and "dilation" in str(real.value)


def torch_or_none(fn: Any, args: tuple, kwargs: dict) -> Any:
    """torch's own meta output, or None where torch raises."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except (RuntimeError, ValueError, TypeError, IndexError, OverflowError,
                ZeroDivisionError):
            return None


def agrees(fn: Any, args: tuple, kwargs: dict, method: str | None = None) -> bool:
    """The shortcut gives torch's output (shape, strides, dtype) or None, and None wherever torch
    raises; True when it answered."""
    if method is None:
        got = meta_shapes.function_shortcut(fn, args, kwargs)
    else:
        got = meta_shapes.method_shortcut(method, args, kwargs)
    want = torch_or_none(fn, args, kwargs)
    if want is None:
        assert got is None, (fn, method, args, kwargs)
    elif got is not None:
        assert same(got, want), (fn, method, args, kwargs, got.shape, want.shape)
    return got is not None


def test_functional_conv_equals_torch_over_a_parameter_grid() -> None:
    """``F.conv1d/2d/3d`` with int, tuple, ``"same"`` and ``"valid"`` padding, strides,
    dilations, groups and a bias, positional and keyword: torch's output or None, None wherever
    torch refuses (too small an input, wrong channels, ``"same"`` with a stride, a wrong bias)."""
    import itertools

    answered = refused = 0
    for nd, k, s, p, d, g, n in itertools.product(
            (1, 2, 3), (1, 3), (1, 2), (0, 2, "same", "valid", (1, 0, 2)), (1, 3), (1, 2, 3),
            (2, 7)):
        fn = getattr(F, f"conv{nd}d")
        x = meta(1, 6, *(n + i for i in range(nd)))
        w = meta(6 if g == 3 else 4, 6 // g, *(k,) * nd)
        pad = p[:nd] if isinstance(p, tuple) else p
        b = meta(w.shape[0]) if k == 3 else None
        covered = torch_or_none(fn, (x, w, b, s, pad, d, g), {}) is not None
        ok = agrees(fn, (x, w, b, s, pad, d, g), {})
        assert ok == covered, (nd, k, s, p, d, g, n)  # every call torch takes is answered
        agrees(fn, (x, w), {"bias": b, "stride": s, "padding": pad, "dilation": d, "groups": g})
        answered += ok
        refused += not covered
    assert answered > 400 and refused > 100
    x, w = meta(1, 4, 9, 9), meta(2, 4, 3, 3)
    for args in [(x, w, meta(3)), (x, w, meta(1, 2)), (x, w.double()), (x.double(), w),
                 (x, w, None, 1, 1, 1, True), (x, w, None, 0), (x, w, None, 1, -1),
                 (x, w, None, 1, "full"), (x, w, None, (1,)),
                 (x.to(memory_format=torch.channels_last), w),
                 (x, w.to(memory_format=torch.channels_last)), (meta(4, 9, 9), w),
                 (x.long(), w.long()), (x, torch.empty(2, 4, 3, 3))]:
        assert meta_shapes.function_shortcut(F.conv2d, args, {}) is None, args
        agrees(F.conv2d, args, {})


def test_functional_pools_equal_torch_over_a_parameter_grid() -> None:
    """``F.max_pool{n}d`` / ``F.avg_pool{n}d`` (and ``torch.max_pool{n}d``) over kernel, stride
    (None, ``()`` or given), padding, dilation and ceil mode, positional and keyword: torch's
    output, None where torch refuses; indices go to torch."""
    import itertools

    answered = 0
    for nd, k, s, p, d, ceil, n in itertools.product((1, 2, 3), (1, 2, 3), (None, 1, 2), (0, 1),
                                                     (1, 2), (False, True), (3, 6)):
        x = meta(1, 2, *(n + i for i in range(nd)))
        maxpool, avgpool = getattr(F, f"max_pool{nd}d"), getattr(F, f"avg_pool{nd}d")
        answered += agrees(maxpool, (x, k, s, p, d, ceil), {})
        answered += agrees(maxpool, (x,), {"kernel_size": k, "stride": s, "padding": p,
                                           "dilation": d, "ceil_mode": ceil,
                                           "return_indices": False})
        answered += agrees(getattr(torch, f"max_pool{nd}d"), (x, k, s or (), p, d, ceil), {})
        if d == 1:
            answered += agrees(avgpool, (x, k, s, p, ceil, p == 0), {})
            answered += agrees(avgpool, (x, k), {"stride": s, "padding": p, "ceil_mode": ceil})
            if nd > 1:
                answered += agrees(avgpool, (x, k, s, p, ceil), {"divisor_override": 3})
    assert answered > 1000
    x = meta(1, 2, 8, 8)
    for fn, args, kwargs in [
        (F.max_pool2d, (x, 2), {"return_indices": True}),
        (F.max_pool2d, (x, 2), {"ceil_mode": 1}),
        (F.max_pool2d, (x, 2, 2, 2), {}),  # padding over half the kernel
        (torch.max_pool2d, (x, 2), {"return_indices": False}),
        (F.avg_pool2d, (x, 2), {"divisor_override": 0}),
        (F.avg_pool1d, (meta(1, 2, 8), 2), {"divisor_override": 2}),
        (F.avg_pool2d, (meta(2, 8, 8), 2), {}),  # unbatched
        (F.max_pool2d, (x.to(memory_format=torch.channels_last), 2), {}),
    ]:
        assert meta_shapes.function_shortcut(fn, args, kwargs) is None, (fn, kwargs)
        agrees(fn, args, kwargs)


def test_functional_adaptive_pools_equal_torch() -> None:
    """``F.adaptive_avg_pool{n}d`` / ``F.adaptive_max_pool{n}d``: an int, a tuple, None (kept,
    2-d and 3-d only); indices and empty inputs go to torch. The modules too."""
    import itertools

    answered = 0
    for nd, size in itertools.product((1, 2, 3), (1, 3, 0, None, (2, None, 4), (None,) * 3,
                                                  (2, 3, 1), (1, 2))):
        x = meta(1, 2, *(5 + i for i in range(nd)))
        out = size[:nd] if isinstance(size, tuple) else size
        for kind in ("avg", "max"):
            answered += agrees(getattr(F, f"adaptive_{kind}_pool{nd}d"), (x, out), {})
            mod = getattr(nn, f"Adaptive{kind.capitalize()}Pool{nd}d")(out)
            got = meta_shapes.module_shortcut(mod, (x,), {})
            want = torch_or_none(mod, (x,), {})
            assert (got is None) if want is None else (got is None or same(got, want)), mod
    assert answered > 20
    x = meta(1, 2, 5, 5)
    assert meta_shapes.function_shortcut(F.adaptive_max_pool2d, (x, 2, True), {}) is None
    assert meta_shapes.function_shortcut(F.adaptive_avg_pool2d, (meta(1, 2, 0, 5), 2), {}) is None
    assert meta_shapes.module_shortcut(nn.AdaptiveAvgPool1d(None), (meta(1, 2, 5),), {}) is None


def test_arithmetic_with_a_python_number_equals_torch() -> None:
    """``x + 1``, ``2 * x``, ``x / 255.0``, ``1 - x`` and the ``torch.add/sub/mul/div`` forms:
    answered for a contiguous floating tensor and a real Python number (torch keeps the tensor's
    shape, dtype and layout), None for an integer, bool or complex tensor, a bool or complex
    number, an int torch cannot hold, or another layout."""
    import itertools

    ops = (operator.add, operator.sub, operator.mul, operator.truediv, torch.add, torch.sub,
           torch.mul, torch.div)
    answered = 0
    for op, dtype, v, layout, tensor_first in itertools.product(
            ops, (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64,
                  torch.bool, torch.complex64),
            (1, -3, 2.5, 255.0, True, 1j, 2 ** 70), ("contiguous", "channels_last", "0-d"),
            (True, False)):
        x = torch.empty(() if layout == "0-d" else (2, 3, 4, 5), dtype=dtype, device="meta")
        if layout == "channels_last":
            x = x.to(memory_format=torch.channels_last)
        args = (x, v) if tensor_first else (v, x)
        ok = agrees(op, args, {})
        expected = (dtype.is_floating_point and type(v) in (int, float) and v != 2 ** 70
                    and layout != "channels_last")
        assert ok == expected, (op, dtype, v, layout, tensor_first)
        answered += ok
    assert answered == 8 * 4 * 4 * 2 * 2
    assert meta_shapes.function_shortcut(torch.add, (meta(2, 3), 1), {"alpha": 2}) is None


def test_interpolate_by_a_scale_factor_equals_torch_over_a_grid() -> None:
    """``F.interpolate(x, scale_factor=...)`` over input sizes, integral and fractional factors
    (one, or one per axis), modes and ``recompute_scale_factor``: torch's output size (its
    truncated float product), None where torch refuses (an empty output, a bad factor, a mode
    of another dimension). The size rule is one for all modes; the linear ones (Python meta
    kernels of about 9 ms) on a smaller grid."""
    import itertools

    answered = 0
    scales: tuple[Any, ...] = (2, 2.0, 0.5, 1.5, 1 / 3, 0.3, 1.7, 0.1, 3.0001, (2, 0.75),
                               (0.5, 2.5, 1.25), 0, -2.0, float("inf"))
    for n, s, mode, recompute, nd in itertools.product(
            (1, 3, 7, 10), scales, ("nearest", "nearest-exact", "area"), (None, False, True),
            (1, 2, 3)):
        scale = s[:nd] if isinstance(s, tuple) else s
        x = meta(1, 2, *(n + i for i in range(nd)))
        kwargs = {"scale_factor": scale, "mode": mode, "recompute_scale_factor": recompute}
        ok = agrees(F.interpolate, (x,), kwargs)
        want = torch_or_none(F.interpolate, (x,), kwargs)
        # every output torch gives is answered, but an empty one (area mode's adaptive pool)
        assert ok == (want is not None and 0 not in want.shape), (x.shape, kwargs)
        answered += ok
    for (nd, mode), s, recompute, corners in itertools.product(
            ((1, "linear"), (2, "bilinear"), (2, "bicubic"), (3, "trilinear"), (1, "bilinear"),
             (2, "linear"), (3, "bicubic")), (0.3, (1.7, 0.75, 2.5)), (None, True),
            (None, True)):
        scale = s[:nd] if isinstance(s, tuple) else s
        x = meta(1, 2, *(3 + i for i in range(nd)))
        answered += agrees(F.interpolate, (x,), {"scale_factor": scale, "mode": mode,
                                                 "recompute_scale_factor": recompute,
                                                 "align_corners": corners})
    assert answered > 800
    x = meta(1, 2, 5, 7)
    for kwargs in [{"scale_factor": 2.0, "antialias": True, "mode": "bilinear"},
                   {"scale_factor": 2.0, "size": 10},
                   {"scale_factor": (2.0,)},
                   {"scale_factor": 1e30},
                   {"scale_factor": torch.tensor(2.0)},
                   {"scale_factor": 2.0, "mode": "bilinear", "align_corners": 1},
                   {"size": (10, 14), "recompute_scale_factor": True}]:
        assert meta_shapes.function_shortcut(F.interpolate, (x,), kwargs) is None, kwargs
        agrees(F.interpolate, (x,), kwargs)
    assert same(meta_shapes.function_shortcut(
        F.interpolate, (x, None, 2.0, "bilinear", True), {}),
        F.interpolate(x, None, 2.0, "bilinear", True))


def test_softmax_sum_and_linear_equal_torch() -> None:
    """``F.softmax/log_softmax``, ``torch.softmax``, the methods and modules along every axis;
    ``sum`` like ``mean`` (axes, keepdim, the whole tensor); ``F.linear`` with and without a
    bias: torch's output, None where torch refuses or an argument is not covered."""
    import itertools

    answered = 0
    for dim, layout, dtype in itertools.product((-5, -4, -1, 0, 2, 3, 4, None),
                                                ("contiguous", "permuted", "0-d"),
                                                (None, torch.float64)):
        x = meta(2, 3, 4, 5)
        x = x.permute(0, 2, 3, 1) if layout == "permuted" else x if layout != "0-d" else meta()
        for fn in (F.softmax, F.log_softmax):
            answered += agrees(fn, (x, dim), {"dtype": dtype})
            answered += agrees(fn, (x,), {"dim": dim, "_stacklevel": 5, "dtype": dtype})
        for fn in (torch.softmax, torch.log_softmax):
            answered += agrees(fn, (x, dim, dtype), {})
            answered += agrees(getattr(torch.Tensor, fn.__name__), (x, dim), {"dtype": dtype},
                               method=fn.__name__)
        if dtype is None:
            for mod in (nn.Softmax(dim), nn.LogSoftmax(dim)):
                got, want = meta_shapes.module_shortcut(mod, (x,), {}), torch_or_none(mod, (x,), {})
                assert (got is None) if want is None else (got is None or same(got, want))
                answered += got is not None
    # every contiguous input along each of its 5 valid axes (-4, -1, 0, 2, 3) without a dtype:
    # 8 function and method forms, 2 modules
    assert answered == 5 * (8 + 2)

    answered = 0
    x = meta(2, 8, 5, 5)
    for dim, keep in itertools.product((0, -1, (2, 3), [1, -1], (1, 1), (), 4, None),
                                       (False, True)):
        answered += agrees(torch.sum, (x, dim, keep), {})
        answered += agrees(torch.Tensor.sum, (x,), {"dim": dim, "keepdim": keep}, method="sum")
    for fn, method in ((torch.sum, None), (torch.Tensor.sum, "sum"), (torch.mean, None),
                       (torch.Tensor.mean, "mean")):
        answered += agrees(fn, (x,), {}, method=method)
        assert meta_shapes.method_shortcut("sum", (x, 1), {"dtype": torch.float64}) is None
    assert answered == 4 * 2 * 2 + 4

    answered = 0
    for xs, ws, bias in itertools.product(((6,), (2, 6), (2, 5, 5, 6), (2, 5)), ((3, 6), (6,)),
                                          (None, (3,), (1,), ())):
        x, w = meta(*xs), meta(*ws)
        b = None if bias is None else meta(*bias)
        answered += agrees(F.linear, (x, w, b), {})
        answered += agrees(F.linear, (x.transpose(0, -1), w), {"bias": b})
    # the 6-wide inputs (and the 1-d one transposed) with a 2-d weight and no or a 3-wide bias
    assert answered == 3 * 2 + 2
    assert meta_shapes.function_shortcut(F.linear, (meta(2, 6), meta(3, 6).double()), {}) is None


class Functionals(nn.Module):
    """A small CNN written with functionals: conv, pools, adaptive pool, scalar arithmetic, a
    resize by a scale factor, softmax, sum and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.w1, self.b1 = nn.Parameter(torch.randn(8, 3, 3, 3)), nn.Parameter(torch.zeros(8))
        self.w2 = nn.Parameter(torch.randn(8, 4, 3, 3))
        self.w3 = nn.Parameter(torch.randn(4, 8, 5))
        self.fc = nn.Parameter(torch.randn(5, 8))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = (x / 255.0 - 0.5) * 2
        y = F.relu(F.conv2d(x, self.w1, self.b1, 2, 1))
        y = F.max_pool2d(y, 3, 2, 1, ceil_mode=True)
        y = 1 + F.conv2d(y, self.w2, None, padding="same", dilation=2, groups=2)
        y = F.avg_pool2d(y, 2) + F.adaptive_max_pool2d(y, (1, None))[..., ::2]
        seg = F.log_softmax(F.interpolate(y, scale_factor=2.5, mode="bilinear"), 1)
        t = F.conv1d(F.avg_pool1d(y.mean(2), 2, ceil_mode=True), self.w3, padding=2)
        t = F.max_pool1d(t, kernel_size=2)
        p = F.adaptive_avg_pool2d(y, 1).flatten(1)
        logits = F.linear(p, self.fc) * 0.5
        return F.softmax(logits, dim=-1), seg.sum(1, keepdim=True), torch.mul(t, 3)


def test_a_functional_cnn_shape_run_needs_no_torch_meta_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every functional conv, pool, adaptive pool, scalar arithmetic, resize, softmax, sum and
    linear of a functional CNN is answered by a formula, and the graph is the one the meta
    kernels give."""
    model = Functionals().eval()
    with monkeypatch.context() as torch_only:  # the meta kernels alone
        for name in ("module_shortcut", "function_shortcut", "method_shortcut"):
            torch_only.setattr(tracing, name, lambda *a: None)
        want = to_graph(model, (1, 3, 40, 36))
    ran: list[str] = []
    base = tracing._recorder_class().__mro__[1]

    def spy(kind: str) -> Any:
        real = getattr(base, kind)

        def call(self: Any, target: Any, args: Any, kwargs: Any) -> Any:
            ran.append(getattr(target, "__name__", str(target)))
            return real(self, target, args, kwargs)

        return call

    for kind in ("call_module", "call_function", "call_method"):
        monkeypatch.setattr(base, kind, spy(kind))
    got = to_graph(model, (1, 3, 40, 36))
    assert sorted(set(ran)) == ["flatten", "getitem"]  # views only
    assert [(n.name, n.layer, n.inputs, n.meta.get("shape")) for n in got.topological()] == [
        (n.name, n.layer, n.inputs, n.meta.get("shape")) for n in want.topological()]
