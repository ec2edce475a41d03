"""tile_plan / tiled_forward against the whole-image forward pass (the reference).

For six architectures on awkward sizes: the stitched output equals ``model(x)`` to 1e-5 in
float32 and exactly in float64 with integer-valued weights and inputs; with the halo one pixel
smaller on any side the result differs (so the halo is exact, not merely sufficient).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from test_tiling_models import (
    ARCHS,
    DeepLabPooled,
    PadToMultiple,
    ResizeToInput,
    build,
    integer_weights,
)

import atrous
from atrous import AtrousError
from atrous.tiling import tile_plan, tiled_forward

FAST = ["unet2d", "wavenet", "tconv-decoder"]
HEAVY = ["resnet18-os8", "deeplabv3-no-pool", "unet3d"]

# (arch, axis) pairs where the input has tiles whose halo lies inside the image on both sides
DIFFERS = [("wavenet", 0), ("tconv-decoder", 1)]
DIFFERS_HEAVY = [("unet2d", 0), ("unet2d", 1), ("tconv-decoder", 0), ("resnet18-os8", 0),
                 ("deeplabv3-no-pool", 1), ("unet3d", 2)]


def _input(name: str, integer: bool = False) -> torch.Tensor:
    shape = ARCHS[name][1]
    gen = torch.Generator().manual_seed(1)
    if integer:
        return torch.randint(0, 4, shape, generator=gen).double()  # >= 0: ReLUs stay alive
    return torch.randn(shape, generator=gen)


def _check_equal(name: str) -> None:
    model = build(name)
    x = _input(name)
    with torch.no_grad():
        ref = model(x)
    out = tiled_forward(model, x, ARCHS[name][2])
    assert out.shape == ref.shape
    assert (out - ref).abs().max().item() <= 1e-5


def _check_exact(name: str) -> None:
    model = integer_weights(build(name))
    x = _input(name, integer=True)
    with torch.no_grad():
        ref = model(x)
    assert ref.abs().max() < 2.0**40 and ref.abs().max() > 0
    out = tiled_forward(model, x, ARCHS[name][2])
    assert torch.equal(out, ref)


def _check_differs(name: str, axis: int) -> None:
    model = build(name).double()  # float64: the exact halo agrees to ~1e-15, one less does not
    x = _input(name).double()
    tile = ARCHS[name][2]
    plan = tile_plan(model, tuple(x.shape), tile)
    with torch.no_grad():
        ref = model(x)
    for side in (0, 1):
        halo = [list(h) for h in plan.halo]
        halo[axis][side] -= 1
        out = tiled_forward(model, x, tile, plan=plan.with_halo([tuple(h) for h in halo]))
        assert (out - ref).abs().max().item() > 1e-9, (name, axis, side)
    assert (tiled_forward(model, x, tile, plan=plan) - ref).abs().max().item() < 1e-12


@pytest.mark.parametrize("name", FAST)
def test_tiled_equals_whole_float32(name: str) -> None:
    _check_equal(name)


@pytest.mark.parametrize("name", FAST)
def test_tiled_equals_whole_exactly_float64(name: str) -> None:
    _check_exact(name)


@pytest.mark.parametrize(("name", "axis"), DIFFERS)
def test_one_pixel_less_halo_differs(name: str, axis: int) -> None:
    _check_differs(name, axis)


@pytest.mark.slow
@pytest.mark.parametrize("name", HEAVY)
def test_tiled_equals_whole_heavy(name: str) -> None:
    _check_equal(name)
    _check_exact(name)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "axis"), DIFFERS_HEAVY)
def test_one_pixel_less_halo_differs_heavy(name: str, axis: int) -> None:
    _check_differs(name, axis)


def test_halo_is_the_box_of_the_output_units() -> None:
    """The halo against a brute-force impulse response: the input pixels that change the
    output units of one interior tile span exactly core - before .. core + after."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(1, 3, 3, stride=2, padding=1), nn.ReLU(),
                        nn.Conv1d(3, 3, 3, padding=3, dilation=3), nn.ReLU(),
                        nn.ConvTranspose1d(3, 1, 4, stride=2, padding=1)).eval()
    n, tile = 120, 20
    plan = tile_plan(net, (1, 1, n), tile)
    (before, after), = plan.halo
    x = torch.randn(1, 1, n, requires_grad=True)
    a, b = 40, 60  # an interior tile's kept output units
    net(x)[0, 0, a:b].abs().sum().backward()
    assert x.grad is not None
    hit = torch.nonzero(x.grad[0, 0]).flatten()
    stride = plan.output_stride[0]
    assert hit.min().item() == a * stride - before
    assert hit.max().item() == b * stride + after - 1


def test_alignment_and_tile_alignment() -> None:
    plan = tile_plan("3x3 s2 p1, 3x3 s2 p1, 3x3 d2 p2, up 2x2", (64, 40), 8)
    assert plan.alignment == (4, 4)
    assert plan.tile_alignment == (2, 2)  # output stride 2: 2 output units = 4 input pixels
    for t in plan.tiles:
        assert all(a % 4 == 0 for a, _ in t.input)


def test_plan_windows_cover_and_clip() -> None:
    plan = tile_plan("3 d1, 3 d2, 3 d4", 100, 32)
    assert [t.output for t in plan.tiles] == [((0, 32),), ((32, 64),), ((64, 96),),
                                              ((96, 100),)]
    assert plan.tiles[0].input[0][0] == 0 and plan.tiles[-1].input[0][1] == 100
    assert plan.overlap_factor == pytest.approx(sum(b - a for (a, b), in
                                                    (t.input for t in plan.tiles)) / 100)


def test_one_big_tile_is_the_whole_image() -> None:
    plan = tile_plan("3x3 d2", (20, 30), 1000)
    assert len(plan.tiles) == 1 and plan.tiles[0].input == ((0, 20), (0, 30))
    assert plan.overlap_factor == 1.0


@pytest.mark.parametrize(
    ("model", "code", "named"),
    [
        (DeepLabPooled, "global-op", "aspp"),
        (ResizeToInput, "size-dependent", "interpolate"),
    ],
)
def test_refuses_global_and_size_dependent_ops(model: type[nn.Module], code: str,
                                               named: str) -> None:
    net = model().eval()
    x = torch.randn(1, 1, 65, 70)
    plan = tile_plan(net, tuple(x.shape), 8)
    assert not plan.ok and not plan.tiles
    assert plan.refusals[0].code == code and named in plan.refusals[0].message
    with pytest.raises(AtrousError, match=named):
        tiled_forward(net, x, 8)


def test_interpolate_to_input_size_at_an_integer_ratio_is_exact() -> None:
    """At 64x72, F.interpolate(size=x.shape) after stride 8 is an x8 upsampling, and so it is on
    every window (their lengths are multiples of the alignment 8): exact, not refused."""
    net = ResizeToInput().eval()
    x = torch.randn(1, 1, 64, 72)
    with torch.no_grad():
        assert (tiled_forward(net, x, 16) - net(x)).abs().max().item() < 1e-6


def test_refuses_a_layer_that_changes_with_the_window_size() -> None:
    """F.pad to a multiple of 32 pads nothing on the 64x64 image but pads a 40-pixel window:
    the re-trace at the windows' sizes finds the layer that changed."""
    plan = tile_plan(PadToMultiple().eval(), (1, 1, 64, 64), 16)
    assert not plan.ok and plan.refusals[0].code == "size-dependent"
    assert "pad" in plan.refusals[0].message


def test_refuses_real_deeplabv3_with_image_pooling() -> None:
    from atrous.nn import DeepLabV3, IntermediateLayerGetter, resnet18

    body = IntermediateLayerGetter(resnet18(8, width=4), {"layer4": "out"})
    net = DeepLabV3(body, atrous.nn.DeepLabHead(32, 2, rates=(2, 4), channels=4)).eval()

    class Out(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)["out"]

    plan = tile_plan(Out().eval(), (1, 3, 65, 65), 8)
    codes = {f.code for f in plan.refusals}
    assert "global-op" in codes
    assert any("pool" in f.message.lower() for f in plan.refusals)


def test_refuses_training_mode_batch_norm() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2))
    plan = tile_plan(net.train(), (1, 1, 32, 32), 8)
    assert plan.refusals[0].code == "training-mode" and "'1' (BatchNorm2d)" in (
        plan.refusals[0].message)
    assert tile_plan(net.eval(), (1, 1, 32, 32), 8).ok


def test_refuses_group_norm() -> None:
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.GroupNorm(2, 4)).eval()
    plan = tile_plan(net, (1, 1, 32, 32), 8)
    assert plan.refusals[0].code == "map-statistics"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("3x3 s2 p1, 3x3 s2 p1", (64, 64), 3), "multiple of the alignment 1|alignment"),
        (("3x3 s2 p1, 3x3 s2 p1, up 4x4", (64, 64), 2), "not a multiple of the alignment 4"),
        (("3x3", (64, -1), 8), "input size"),
        (("3x3", (64, 64), 0), "tile must be >= 1"),
        (("3x3", (64, 64), -8), "tile must be >= 1"),
        (("3x3", (64, 64), (8, 8, 8)), "tile must have 2 entries"),
    ],
)
def test_bad_input_is_one_line(args: tuple, match: str) -> None:  # type: ignore[type-arg]
    if args[2] == 3:
        assert tile_plan(*args).ok  # output stride 4 but tile alignment 1: any tile works
        return
    with pytest.raises(AtrousError, match=match) as info:
        tile_plan(*args)
    assert "\n" not in str(info.value)


def test_plan_json_and_text() -> None:
    plan = tile_plan("3x3 d2, 3x3 d4", (100, 80), 32)
    d = plan.to_dict()
    assert d["halo"] == [[6, 6], [6, 6]] and d["ok"] and len(d["tiles"]) == len(plan.tiles)
    assert "halo (input pixels, per axis): 6 before / 6 after" in str(plan)


def test_recommend_under_memory_bound() -> None:
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=2, dilation=2), nn.ReLU(),
                        nn.Conv2d(4, 1, 3, padding=4, dilation=4)).eval()
    plan = tile_plan(net, (1, 1, 96, 96), 32)
    assert plan.bytes_per_pixel is not None
    budget = int(plan.bytes_per_pixel * 50 * 50) + plan.fixed_bytes
    tile = plan.recommend(budget)
    chosen = tile_plan(net, (1, 1, 96, 96), tile)
    assert chosen.peak_bytes is not None and chosen.peak_bytes <= budget
    bigger = tile_plan(net, (1, 1, 96, 96), tuple(t + 1 for t in tile))
    assert (bigger.peak_bytes is not None and bigger.peak_bytes > budget) or (
        bigger.overlap_factor >= chosen.overlap_factor)
    assert plan.recommend() == (96, 96)
    with pytest.raises(AtrousError, match="no tile fits"):
        plan.recommend(10)


def test_memory_estimate_counts_the_live_tensors() -> None:
    """Hand count for input 1 ch -> conv 4 ch -> ReLU -> conv 2 ch (floats per pixel): the
    first conv runs with its input (1) and its output twice (oneDNN's blocked copy, 4 + 4):
    9; the ReLU with 4 + 4 = 8; the last conv with 4 + 2 + 2 = 8. Peak 9 floats = 36 bytes."""
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(4, 2, 3, padding=1)).eval()
    plan = tile_plan(net, (1, 1, 64, 48), 16)
    assert plan.bytes_per_pixel == 36.0
    assert plan.fixed_bytes == atrous.tiling.RUNTIME_BYTES + 2 * 4 * 9 * 4  # largest weight
    assert plan.output_bytes == 2 * 64 * 48 * 4
    assert plan.whole_bytes == 36 * 64 * 48 + plan.fixed_bytes
    windows = {tuple(b - a for a, b in t.input) for t in plan.tiles}
    assert plan.peak_bytes == 36 * max(h * w for h, w in windows) + plan.fixed_bytes


def test_tiled_forward_writes_into_out() -> None:
    net = nn.Sequential(nn.Conv1d(1, 2, 3, padding=2, dilation=2)).eval()
    x = torch.randn(1, 1, 50)
    out = torch.full((1, 2, 50), float("nan"))
    assert tiled_forward(net, x, 16, out=out) is out
    torch.testing.assert_close(out, net(x).detach())
    with pytest.raises(AtrousError, match="out has shape"):
        tiled_forward(net, x, 16, out=torch.empty(1, 3, 50))
