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
]


@pytest.mark.parametrize(("fn", "args", "kwargs"), FUNCTIONS,
                         ids=[f"{getattr(f, '__name__', 'fn')}-{i}"
                              for i, (f, _, _) in enumerate(FUNCTIONS)])
def test_function_shortcut_equals_torch_meta(fn: Any, args: tuple, kwargs: dict) -> None:
    assert same(meta_shapes.function_shortcut(fn, args, kwargs), fn(*args, **kwargs))


@pytest.mark.parametrize(("fn", "args", "kwargs"), [
    (operator.add, (meta(2, 3), meta(4, 3)), {}),  # does not broadcast: torch's error
    (operator.add, (meta(2, 3), 1.0), {}),
    (operator.add, (meta(1, 2, 3, 3).to(memory_format=torch.channels_last), meta(1, 2, 3, 3)),
     {}),
    (operator.add, (meta(2, 8, 5, 5).permute(0, 2, 3, 1), meta(8)), {}),
    (torch.add, (meta(2, 3), meta(2, 3)), {"alpha": 2}),
    (torch.mean, (meta(2, 3), (1, 1)), {}),  # a repeated axis
    (torch.mean, (meta(2, 3), 1), {"dtype": torch.float64}),
    (torch.cat, ([meta(1, 2, 4, 4), meta(1, 2, 5, 4)],), {"dim": 1}),
    (F.interpolate, (meta(1, 3, 5, 7),), {"scale_factor": 2.0}),
    (F.interpolate, (meta(1, 3, 5, 7),), {"size": (10, 14), "mode": "linear"}),
    (F.interpolate, (meta(1, 3, 5, 7),), {"size": (10, 14), "align_corners": True}),
], ids=["no-broadcast", "scalar", "channels-last", "permuted", "alpha", "repeated-axis",
        "dtype", "sizes-differ", "scale-factor", "mode", "align-corners"])
def test_function_shortcut_leaves_the_unusual_to_torch(fn: Any, args: tuple,
                                                       kwargs: dict) -> None:
    assert meta_shapes.function_shortcut(fn, args, kwargs) is None


def test_method_mean() -> None:
    x = meta(2, 8, 5, 5)
    assert same(meta_shapes.method_shortcut("mean", (x, (2, 3)), {"keepdim": True}),
                x.mean((2, 3), keepdim=True))
    assert meta_shapes.method_shortcut("sum", (x, 1), {}) is None


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
    Python meta kernels, whose first call imports sympy and torch._dynamo (about 1.5 s)."""
    import subprocess
    import sys

    code = (
        "import sys, atrous\n"
        "from atrous.nn import CausalDilatedStack\n"
        "m = CausalDilatedStack(4, dilations=(1, 2, 4), gated=True).eval()\n"
        "rf = atrous.receptive_field(m, (1, 4, 40))\n"
        "print(rf.box(0), 'sympy' in sys.modules, 'torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[-2:] == ["False", "False"], out
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
    model = _AtrousFunctionals()
    got = to_graph(model, (1, 4, 11, 13))
    with monkeypatch.context() as torch_only:
        torch_only.setattr(meta_shapes, "_REGISTERED", {})
        want = to_graph(model, (1, 4, 11, 13))
    assert [(n.name, n.layer, n.inputs, n.meta.get("shape")) for n in got.topological()] == [
        (n.name, n.layer, n.inputs, n.meta.get("shape")) for n in want.topological()]
    from atrous.nn import functional as AF
    from atrous.nn._dilated import meta_conv

    x, w = torch.empty(1, 2, 9, 9, device="meta"), torch.empty(3, 2, 3, 3, device="meta")
    assert meta_conv(2, x.long(), w.long()) is None  # torch decides
    assert meta_conv(2, x, w.double()) is None
    assert meta_conv(2, torch.empty(1, 2, 9, 9), w) is None
    with pytest.raises(Exception, match="groups must divide"):
        meta_conv(2, x, w, None, 1, 0, 1, 2)
    out = meta_conv(2, x, w, None, 1, 0, 2)
    assert out is not None and out.shape == AF.dilated_conv2d(x, w, None, 1, 0, 2).shape
