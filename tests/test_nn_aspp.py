"""ASPP against torchvision's ASPP (a plain-torch transcription) and a functional composition."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from atrous.errors import AtrousError
from atrous.nn import ASPP, PooledBatchNorm2d
from atrous.nn.aspp import ASPPConv, aspp_rates, pooled_batch_norm

torch.set_num_threads(1)


def _reference() -> ModuleType:
    path = Path(__file__).parent / "data" / "torchvision_reference.py"
    spec = importlib.util.spec_from_file_location("torchvision_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tv = _reference()


def _randomize_norms(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial affine parameters and running statistics in every BatchNorm."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = torch.rand(c, generator=g, dtype=m.weight.dtype) + 0.5
            m.bias.data = torch.randn(c, generator=g, dtype=m.bias.dtype) * 0.1
            m.running_mean = torch.randn(c, generator=g, dtype=m.running_mean.dtype) * 0.1
            m.running_var = torch.rand(c, generator=g, dtype=m.running_var.dtype) + 0.5


def _functional_aspp(
    sd: dict[str, torch.Tensor],
    x: torch.Tensor,
    rates: tuple[int, ...],
    separable: bool,
    pooling: bool,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Eval-mode ASPP written with F ops straight from a state_dict."""

    def bn(t: torch.Tensor, key: str) -> torch.Tensor:
        return F.batch_norm(
            t, sd[f"{key}.running_mean"], sd[f"{key}.running_var"], sd[f"{key}.weight"],
            sd[f"{key}.bias"], False, 0.0, eps,
        )  # fmt: skip

    outs = [F.relu(bn(F.conv2d(x, sd["convs.0.0.weight"]), "convs.0.1"))]
    for i, r in enumerate(rates, start=1):
        w = sd[f"convs.{i}.0.weight"]
        if separable:
            y = F.conv2d(x, w, padding=r, dilation=r, groups=x.shape[1])
            y = F.relu(bn(y, f"convs.{i}.1"))
            y = F.relu(bn(F.conv2d(y, sd[f"convs.{i}.3.weight"]), f"convs.{i}.4"))
        else:
            y = F.relu(bn(F.conv2d(x, w, padding=r, dilation=r), f"convs.{i}.1"))
        outs.append(y)
    if pooling:
        i = len(rates) + 1
        pooled = x.mean(dim=(2, 3), keepdim=True)
        y = F.relu(bn(F.conv2d(pooled, sd[f"convs.{i}.1.weight"]), f"convs.{i}.2"))
        outs.append(y.expand(-1, -1, *x.shape[-2:]))
    y = F.conv2d(torch.cat(outs, 1), sd["project.0.weight"])
    return F.relu(bn(y, "project.1"))


def test_state_dict_and_outputs_equal_torchvision_aspp() -> None:
    ref = tv.ASPP(16, (1, 2, 3), 8).double()
    _randomize_norms(ref)
    ours = ASPP(16, 8, (1, 2, 3)).double()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 16, 9, 11, dtype=torch.float64)
    torch.testing.assert_close(ours.eval()(x), ref.eval()(x), rtol=0, atol=1e-12)
    # train mode (batch 2): same outputs with the same dropout mask, same running statistics
    ours.train(), ref.train()
    torch.manual_seed(1)
    y_ref = ref(x)
    torch.manual_seed(1)
    y_ours = ours(x)
    torch.testing.assert_close(y_ours, y_ref, rtol=0, atol=1e-12)
    for (k, a), b in zip(ours.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12, msg=k)


@given(
    rates=st.lists(st.integers(1, 6), min_size=0, max_size=4).map(tuple),
    separable=st.booleans(),
    pooling=st.booleans(),
    cin=st.integers(1, 6),
    cout=st.integers(1, 5),
    h=st.integers(7, 12),
    w=st.integers(7, 12),
)
def test_matches_functional_composition(
    rates: tuple[int, ...], separable: bool, pooling: bool, cin: int, cout: int, h: int, w: int
) -> None:
    torch.manual_seed(0)
    m = ASPP(cin, cout, rates, separable=separable, image_pooling=pooling).double()
    _randomize_norms(m)
    m.eval()
    x = torch.randn(2, cin, h, w, dtype=torch.float64)
    expected = _functional_aspp(m.state_dict(), x, rates, separable, pooling)
    torch.testing.assert_close(m(x), expected, rtol=1e-10, atol=1e-12)
    assert len(m.convs) == 1 + len(rates) + pooling


def test_trains_at_batch_size_1() -> None:
    torch.manual_seed(0)
    x, target = torch.randn(1, 16, 9, 9), torch.randn(1, 8, 9, 9)
    ref = tv.ASPP(16, (1, 2, 3), 8).train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ref(x)  # the torchvision crash this fixes

    m = ASPP(16, 8, (1, 2, 3)).train()
    m.load_state_dict(ref.state_dict())
    pool_bn = m.convs[4][2]
    assert isinstance(pool_bn, PooledBatchNorm2d)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    loss = F.mse_loss(m(x), target)
    loss.backward()
    opt.step()
    after = m.state_dict()
    # a real step: every parameter outside the pooled branch moved
    for name, p in m.named_parameters():
        if not name.startswith("convs.4."):
            assert not torch.equal(p, before[name]), name
    # the pooled norm kept its running statistics; the others updated theirs
    for key in ("running_mean", "running_var", "num_batches_tracked"):
        assert torch.equal(after[f"convs.4.2.{key}"], before[f"convs.4.2.{key}"])
        assert not torch.equal(after[f"convs.0.1.{key}"], before[f"convs.0.1.{key}"])
    assert torch.isfinite(loss)


def test_pooled_branch_gradient_vanishes_at_batch_1_in_train_mode() -> None:
    """A documented property of ASPP (any implementation), not of the fix: at N=1 the pooled
    branch is constant over H x W, and the train-mode BatchNorm after the projection subtracts
    each channel's spatial mean, so that branch gets no gradient. At N=2 it does."""
    torch.manual_seed(0)
    m = ASPP(6, 4, (1,), dropout=0.0).double().train()
    grads = {}
    for n in (1, 2):
        m.zero_grad()
        m(torch.randn(n, 6, 7, 7, dtype=torch.float64)).square().sum().backward()
        grads[n] = m.convs[2][1].weight.grad.abs().max().item()
        assert m.convs[1][0].weight.grad.abs().max() > 1e-3
    assert grads[1] < 1e-10 < 1e-3 < grads[2]


@given(
    n=st.integers(1, 3),
    h=st.integers(1, 3),
    w=st.integers(1, 3),
    momentum=st.sampled_from([0.1, 0.5, None]),
)
def test_pooled_batch_norm_is_batch_norm_when_defined(
    n: int, h: int, w: int, momentum: float | None
) -> None:
    torch.manual_seed(0)
    ref = nn.BatchNorm2d(4, momentum=momentum).double()
    ours = PooledBatchNorm2d(4, momentum=momentum).double()
    _randomize_norms(ref)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(n, 4, h, w, dtype=torch.float64)
    if n * h * w == 1:  # BatchNorm2d refuses; ours normalises with the running statistics
        with pytest.raises(ValueError):
            ref.train()(x)
        expected = ref.eval()(x)
        before = {k: v.clone() for k, v in ours.state_dict().items()}
        torch.testing.assert_close(ours.train()(x), expected, rtol=0, atol=1e-12)
        for k, v in ours.state_dict().items():
            assert torch.equal(v, before[k]), k
        return
    for _ in range(2):  # twice, so the momentum=None cumulative average is exercised
        torch.testing.assert_close(ours.train()(x), ref.train()(x), rtol=0, atol=1e-12)
    for (k, a), b in zip(ours.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12, msg=k)
    torch.testing.assert_close(ours.eval()(x), ref.eval()(x), rtol=0, atol=1e-12)


def test_pooled_batch_norm_without_running_stats_still_refuses() -> None:
    x = torch.randn(1, 3, 1, 1)
    with pytest.raises(ValueError):
        pooled_batch_norm(x, None, None, None, None, None, True, 0.1, 1e-5)


def test_rate_not_smaller_than_feature_map_warns_once() -> None:
    m = ASPP(4, 4, (2, 9)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m(torch.randn(1, 4, 10, 10))  # 9 < 10: every rate fits
    with pytest.warns(UserWarning, match=r"rate 9 is not smaller than the 9x9 feature map.*1x1"):
        m(torch.randn(1, 4, 9, 9))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m(torch.randn(1, 4, 9, 9))  # once per module


def test_warning_points_at_the_callers_line() -> None:
    m = ASPP(4, 4, (12,)).eval()
    with pytest.warns(UserWarning, match="smaller output stride") as caught:
        m(torch.randn(1, 4, 9, 9))
    assert caught[0].filename == __file__


def test_warning_names_every_rate_that_is_too_large() -> None:
    rates = (2, 12, 24, 36, 40)
    h, w = 9, 30
    with pytest.warns(UserWarning) as caught:
        ASPP(4, 4, rates).eval()(torch.randn(1, 4, h, w))
    assert len(caught) == 1
    text = str(caught[0].message)
    both = [r for r in rates if r >= h and r >= w]
    tall = [r for r in rates if r >= h and r < w]
    assert f"rates {both} are not smaller than the {h}x{w}" in text and "1x1 conv" in text
    assert f"rates {tall} are not smaller" in text and "height-axis" in text
    assert "rate 2 " not in text


def test_rate_too_large_on_one_axis_names_the_axis() -> None:
    with pytest.warns(UserWarning, match=r"9x20 feature map.*height-axis.*1x3"):
        ASPP(4, 4, (9,)).eval()(torch.randn(1, 4, 9, 20))


@pytest.mark.parametrize(("rate", "h", "w"), [(9, 9, 9), (12, 5, 7)])
def test_warning_claim_holds_branch_is_a_1x1_conv(rate: int, h: int, w: int) -> None:
    """What the warning says: with rate >= H and >= W only the centre tap sees data."""
    branch = ASPPConv(3, 5, rate, norm=None, act=None).double()
    x = torch.randn(2, 3, h, w, dtype=torch.float64)
    centre = branch[0].weight[:, :, 1:2, 1:2]
    expected = F.conv2d(x, centre, branch[0].bias)
    torch.testing.assert_close(branch(x), expected, rtol=1e-12, atol=1e-12)
    smaller = ASPPConv(3, 5, min(h, w) - 1, norm=None, act=None).double()
    centre = smaller[0].weight[:, :, 1:2, 1:2]
    assert not torch.allclose(smaller(x), F.conv2d(x, centre, smaller[0].bias))


def test_fx_trace_equals_module_in_train_and_eval() -> None:
    m = ASPP(8, 4, (1, 2)).double()
    _randomize_norms(m)
    gm = torch.fx.symbolic_trace(m)
    x2 = torch.randn(2, 8, 7, 7, dtype=torch.float64)
    x1 = torch.randn(1, 8, 7, 7, dtype=torch.float64)
    torch.testing.assert_close(gm.eval()(x2), m.eval()(x2))
    gm.train(), m.train()
    for x in (x1, x2):  # batch 1 goes through the pooled-norm fallback inside the traced graph
        torch.manual_seed(3)
        a = gm(x)
        torch.manual_seed(3)
        torch.testing.assert_close(a, m(x))


def test_torch_compile_eager_backend() -> None:
    m = ASPP(8, 4, (1, 2)).eval()
    x = torch.randn(1, 8, 7, 7)
    compiled = torch.compile(m, backend="eager")
    torch.testing.assert_close(compiled(x), m(x))


def test_gradients_reach_every_parameter() -> None:
    m = ASPP(6, 4, (1, 3), separable=True, dropout=0.0).double().train()
    x = torch.randn(2, 6, 8, 8, dtype=torch.float64, requires_grad=True)
    m(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_output_stride_rates_and_layout() -> None:
    assert ASPP(4, 4, output_stride=16).rates == aspp_rates(16) == (6, 12, 18)
    assert ASPP(4, 4, output_stride=8).rates == tuple(2 * r for r in aspp_rates(16))
    assert ASPP(4, 4).rates == aspp_rates(16)
    m = ASPP(4, 6, (1, 2, 3, 4, 5))
    assert m.project[0].in_channels == 6 * (1 + 5 + 1)
    dilations = [branch[0].dilation for branch in m.convs[1:-1]]
    assert dilations == [(r, r) for r in (1, 2, 3, 4, 5)]
    assert [branch[0].padding for branch in m.convs[1:-1]] == dilations


def test_batch_norm_factory_with_settings_becomes_pooled_in_the_pooling_branch() -> None:
    m = ASPP(8, 4, (1,), norm=lambda c: nn.BatchNorm2d(c, eps=1e-3, momentum=0.01))
    pooled, plain = m.convs[2][2], m.convs[0][1]
    assert type(pooled) is PooledBatchNorm2d and type(plain) is nn.BatchNorm2d
    assert (pooled.eps, pooled.momentum) == (plain.eps, plain.momentum) == (1e-3, 0.01)
    m.train()(torch.randn(1, 8, 5, 5)).sum().backward()


def test_injected_norm_and_no_norm() -> None:
    m = ASPP(8, 8, (1,), norm=lambda c: nn.GroupNorm(2, c), act=nn.GELU).train()
    assert isinstance(m.convs[2][2], nn.GroupNorm) and isinstance(m.convs[0][2], nn.GELU)
    m(torch.randn(1, 8, 5, 5)).sum().backward()  # GroupNorm also trains at batch size 1
    plain = ASPP(8, 8, (1,), norm=None)
    assert all(conv.bias is not None for conv in plain.modules() if isinstance(conv, nn.Conv2d))
    assert not any(isinstance(mod, nn.BatchNorm2d) for mod in plain.modules())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rates": (6,), "output_stride": 16}, "not both"),
        ({"rates": (0,)}, "rate must be >= 1, got 0"),
        ({"output_stride": 4}, "output_stride must be 8 or 16"),
        ({"dropout": 1.5}, "dropout must be in"),
        ({"rates": "6,12"}, "rates must be a sequence"),
        ({"norm": "bn"}, "norm must be a factory such as nn.BatchNorm2d, or None, got 'bn'"),
        ({"norm": nn.BatchNorm2d(4)}, "got the module instance"),
        ({"act": "relu"}, "act must be a factory such as nn.ReLU"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(AtrousError, match=message):
        ASPP(4, 4, **kwargs)  # type: ignore[arg-type]
