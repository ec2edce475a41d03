"""Conv-arithmetic drawings: geometry and numbers against real torch ops, pixels against geometry.

The reference for which input pixels a step reads is PyTorch itself: a batch of one-hot inputs
pushed through the real op (weights all ones) marks, for every output position, exactly the input
pixels its window reads. The example numbers' outputs are compared with the real op too.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atrous import conv_output_size
from atrous.errors import AtrousError, TooLargeError
from atrous.render import draw as D
from atrous.render.style import ROLE

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _op(g: Any, x: Any, w: Any) -> Any:
    """The real torch op of a geometry (or a config namespace) on ``x`` (N, 1, *size)."""
    nd = len(g.input_size)
    if g.kind in ("conv", "dilated"):
        pads = [v for pair in reversed(g.padding) for v in pair]  # F.pad order: last axis first
        x = F.pad(x, pads)
        fn = F.conv1d if nd == 1 else F.conv2d
        return fn(x, w, stride=g.stride, dilation=g.dilation)
    if g.kind == "transposed":
        fn = F.conv_transpose1d if nd == 1 else F.conv_transpose2d
        return fn(x, w, stride=g.stride, padding=tuple(p for p, _ in g.padding),
                  output_padding=g.output_padding, dilation=g.dilation)
    p = tuple(a for a, _ in g.padding)
    if g.pool_mode == "max":
        fn = F.max_pool1d if nd == 1 else F.max_pool2d
        return fn(x, g.kernel, g.stride, p, g.dilation, ceil_mode=g.ceil_mode)
    fn = F.avg_pool1d if nd == 1 else F.avg_pool2d
    return fn(x, g.kernel, g.stride, p, ceil_mode=g.ceil_mode)


def _namespace(cfg: dict[str, Any]) -> Any:
    """A config as the per-axis fields ``_op`` reads (without going through atrous)."""
    from types import SimpleNamespace

    nd = cfg["ndim"]
    pad = cfg.get("padding", 0)
    pairs = pad if isinstance(pad, tuple) else ((pad, pad),) * nd
    return SimpleNamespace(
        kind=cfg["kind"], input_size=tuple(cfg["input"]), kernel=(cfg["kernel"],) * nd,
        stride=(cfg["stride"],) * nd, padding=pairs, dilation=(cfg.get("dilation", 1),) * nd,
        output_padding=(cfg.get("output_padding", 0),) * nd,
        pool_mode=cfg.get("pool_mode", "max"), ceil_mode=cfg.get("ceil_mode", False),
    )


def _torch_reads(g: D.Geometry) -> dict[tuple[int, ...], set[tuple[int, ...]]]:
    """For every output position, the input pixels it reads (one-hot batch through the op)."""
    n = int(np.prod(g.input_size))
    eye = torch.eye(n, dtype=torch.float64).reshape(n, 1, *g.input_size)
    w = torch.ones((1, 1, *g.kernel), dtype=torch.float64)
    out = _op(g, eye, w)[:, 0]  # (n, *out)
    reads: dict[tuple[int, ...], set[tuple[int, ...]]] = {}
    inputs = list(itertools.product(*(range(v) for v in g.input_size)))
    for o in itertools.product(*(range(v) for v in out.shape[1:])):
        col = out[(slice(None), *o)]
        reads[o] = {inputs[j] for j in torch.nonzero(col > 0).flatten().tolist()}
    return reads


kinds = st.sampled_from(["conv", "dilated", "transposed", "pool"])


@st.composite
def configs(draw: Any) -> dict[str, Any]:
    kind = draw(kinds)
    nd = draw(st.sampled_from([1, 2]))
    k = draw(st.integers(1, 3))
    d = draw(st.integers(1, 3))
    s = draw(st.integers(1, 3))
    n = tuple(draw(st.integers(1, 7)) for _ in range(nd))
    cfg: dict[str, Any] = dict(kind=kind, input=n, kernel=k, stride=s, ndim=nd)
    if kind in ("conv", "dilated"):
        cfg["dilation"] = d
        cfg["padding"] = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2)))
                               for _ in range(nd))
    elif kind == "transposed":
        cfg["dilation"] = d
        cfg["padding"] = draw(st.integers(0, 3))
        cfg["output_padding"] = draw(st.integers(0, max(s, d) - 1))
    else:
        cfg["pool_mode"] = draw(st.sampled_from(["max", "avg"]))
        cfg["dilation"] = d if cfg["pool_mode"] == "max" else 1
        cfg["padding"] = draw(st.integers(0, k // 2))
        cfg["ceil_mode"] = draw(st.booleans())
    return cfg


def _geometry_or_none(cfg: dict[str, Any]) -> D.Geometry | None:
    try:
        return D.geometry(**cfg)
    except AtrousError:
        return None


@settings(max_examples=60)
@given(configs())
def test_steps_and_reads_match_the_real_op(cfg: dict[str, Any]) -> None:
    g = _geometry_or_none(cfg)
    x = torch.zeros((1, 1, *cfg["input"]), dtype=torch.float64)
    w = torch.ones((1, 1, *(cfg["kernel"],) * cfg["ndim"]), dtype=torch.float64)
    if g is None:  # atrous refuses exactly where torch does
        with pytest.raises(RuntimeError):
            _op(_namespace(cfg), x, w)
        return
    out = _op(g, x, w)
    assert g.output_size == tuple(out.shape[2:])
    fs = D.frames(**cfg)
    # one frame per output position, row-major
    assert len(fs) == out[0, 0].numel() == g.steps
    assert [f.output for f in fs] == list(itertools.product(*(range(v) for v in out.shape[2:])))
    reads = _torch_reads(g)
    for f in fs:
        assert len(f.taps) == int(np.prod(g.kernel))
        assert {r for r in f.reads if r is not None} == reads[f.output]
        # every tap of a read pixel sits on that pixel's canvas cell
        for c, r in zip(f.taps, f.reads):
            kind, idx = g.cell(c)
            assert (kind == "input") == (r is not None) and idx == r


@settings(max_examples=40)
@given(configs())
def test_numbers_equal_the_real_op(cfg: dict[str, Any]) -> None:
    g = _geometry_or_none(cfg)
    if g is None:
        return
    xs, ws = D.example_numbers(g)
    x = torch.tensor(xs, dtype=torch.float64)[None, None]
    w = torch.tensor(ws, dtype=torch.float64)[None, None]
    expected = _op(g, x, w)[0, 0]
    for f in D.frames(**cfg):
        assert f.value == pytest.approx(float(expected[f.output]))


def test_refusals_name_the_rule() -> None:
    with pytest.raises(AtrousError, match="smaller than the effective kernel"):
        D.geometry("dilated", 4, kernel=3, dilation=2)
    with pytest.raises(AtrousError, match="output_padding"):
        D.geometry("transposed", 3, kernel=3, stride=2, output_padding=2)
    with pytest.raises(AtrousError, match="kind must be one of"):
        D.geometry("deconv", 3)  # type: ignore[arg-type]
    with pytest.raises(AtrousError, match="symmetric"):
        D.geometry("pool", 4, kernel=2, padding=((0, 1), (0, 1)))
    with pytest.raises(TooLargeError):
        D.geometry("conv", 500, kernel=3)
    with pytest.raises(AtrousError, match="step must be in"):
        D.draw("conv", 5, step=9)


def test_seed_example_geometry_from_arith() -> None:
    # seed 001's picture: kernel 3, dilation 2, stride 1, padding 0 on a 7x7 input
    g = D.geometry("dilated", 7, kernel=3, dilation=2)
    assert g.output_size == (conv_output_size(7, 3, dilation=2),) * 2
    f = D.frames("dilated", 7, kernel=3, dilation=2)[0]
    assert f.taps == tuple(itertools.product((0, 2, 4), (0, 2, 4)))
    # the holes: every cell of the 5x5 extent that is not a tap
    assert len(f.holes) == 5 * 5 - 3 * 3


def test_transposed_crops_when_padding_exceeds_the_kernel() -> None:
    # padding 3 > dilation*(kernel-1) = 2: conv_arithmetic has no picture for this
    g = D.geometry("transposed", 4, kernel=3, stride=2, padding=3, ndim=1)
    assert g.canvas_offset == (-1,)
    assert g.output_size == (F.conv_transpose1d(torch.zeros(1, 1, 4), torch.zeros(1, 1, 3),
                                                stride=2, padding=3).shape[-1],)


# -- pixels -----------------------------------------------------------------------------------
def _rgb(hex_color: str) -> np.ndarray:
    h = hex_color.lstrip("#")
    return np.array([int(h[i:i + 2], 16) for i in (0, 2, 4)])


def _is(pixel: np.ndarray, color: str) -> bool:
    return bool(np.abs(pixel[:3].astype(int) - _rgb(color)).max() <= 12)


CASES = [
    dict(kind="dilated", input=7, kernel=3, dilation=2),
    dict(kind="conv", input=(5, 6), kernel=3, stride=2, padding=((1, 0), (0, 1))),
    dict(kind="transposed", input=3, kernel=3, stride=2, padding=1, output_padding=1),
    dict(kind="pool", input=5, kernel=2, ceil_mode=True),
    dict(kind="dilated", input=9, kernel=3, dilation=3, ndim=1),
]


@pytest.mark.parametrize("cfg", CASES, ids=lambda c: str(c["kind"]))
def test_highlighted_cells_are_the_taps_of_the_step(cfg: dict[str, Any]) -> None:
    g = D.geometry(**cfg)
    step = g.steps // 2
    d = D.draw(**cfg, step=step)
    frame = d.frames[step]
    image = d.rgba()
    taps = set(frame.taps)
    for c in itertools.product(*(range(v) for v in g.canvas_size)):
        pixel = image[d.cell_pixel(c)]
        assert _is(pixel, ROLE["tap"]) == (c in taps), c
    for o in itertools.product(*(range(v) for v in g.output_size)):
        idx = int(np.ravel_multi_index(o, g.output_size))
        pixel = image[d.cell_pixel(o, grid="output")]
        expected = ROLE["current"] if idx == step else (ROLE["output"] if idx < step
                                                        else "#FFFFFF")
        assert _is(pixel, expected), (o, pixel)


def test_gif_has_one_frame_per_output_position(tmp_path: Path) -> None:
    from PIL import Image

    cfg = dict(kind="dilated", input=7, kernel=3, dilation=2)
    path = D.animate(tmp_path / "d.gif", **cfg)  # type: ignore[arg-type]
    g = D.geometry(**cfg)  # type: ignore[arg-type]
    d = D.Drawing(g)
    with Image.open(path) as im:
        assert im.n_frames == g.steps == 9
        for step in (0, 4, 8):
            im.seek(step)
            rgb = np.asarray(im.convert("RGB"))
            taps = set(d.frames[step].taps)
            for c in itertools.product(*(range(v) for v in g.canvas_size)):
                assert _is(rgb[d.cell_pixel(c)], ROLE["tap"]) == (c in taps)
            out = d.frames[step].output
            assert _is(rgb[d.cell_pixel(out, grid="output")], ROLE["current"])


def test_png_and_svg_written_atomically(tmp_path: Path) -> None:
    png = D.animate(tmp_path / "a.png", "conv", 5, kernel=3, padding=1, step=-1)
    svg = D.animate(tmp_path / "a.svg", "conv", 5, kernel=3, padding=1)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a.svg"]  # no temp files
    with pytest.raises(AtrousError, match=r"\.gif, \.png or \.svg"):
        D.animate(tmp_path / "a.bmp", "conv", 5)


def test_cli_draw(tmp_path: Path, capsys: Any) -> None:
    from atrous.cli import main

    out = tmp_path / "x.gif"
    assert main(["draw", "dilated", "--input", "7", "-k", "3", "-d", "2", "-o", str(out)]) == 0
    assert "9 frames" in capsys.readouterr().out and out.exists()
    assert main(["draw", "conv", "--input", "3", "-k", "5", "-o", str(tmp_path / "y.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "effective kernel" in err[0]
    helptext = subprocess.run([sys.executable, "-m", "atrous", "draw", "--help"],
                              capture_output=True, text=True)
    assert "examples:" in helptext.stdout and "(default: None)" not in helptext.stdout


def test_cli_padding_syntax() -> None:
    from atrous.cli.draw import parse_padding

    assert parse_padding("2") == 2
    assert parse_padding("1,2") == (1, 2)
    assert parse_padding("0:1,1:1") == ((0, 1), (1, 1))
    assert parse_padding("same") == "same"
    with pytest.raises(AtrousError):
        parse_padding("a:b")


@pytest.mark.parametrize("seed", ["-1", "-7"])
def test_cli_draw_refuses_a_negative_seed(seed: str, tmp_path: Path, capsys: Any) -> None:
    from atrous.cli import main

    out = tmp_path / "x.png"
    assert main(["draw", "conv", "--input", "7", "-k", "3", "--seed", seed, "-o",
                 str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--seed must be >= 0, got {seed}" in err[0]
    assert not out.exists()
    with pytest.raises(AtrousError, match=f"seed must be >= 0, got {seed}"):
        D.draw("conv", 7, kernel=3, seed=int(seed))
    with pytest.raises(AtrousError, match=r"seed must be an integer, got 1\.5"):
        D.draw("conv", 7, kernel=3, seed=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("step", [0, 3, -1])
def test_cli_step_message_agrees_with_the_picture(step: int, tmp_path: Path,
                                                   capsys: Any) -> None:
    from atrous.cli import main

    out = tmp_path / "strided.png"
    assert main(["draw", "conv", "--input", "5", "-k", "3", "-s", "2", "-p", "1", "-o",
                 str(out), "--step", str(step)]) == 0
    steps = conv_output_size(5, kernel=3, stride=2, padding=1) ** 2
    shown = (step % steps) + 1  # --step counts from 0 (like an index), pictures from 1
    said = capsys.readouterr().out
    assert f"(step {shown}/{steps})" in said
    d = D.draw("conv", 5, kernel=3, stride=2, padding=1, step=step)
    assert d._title.get_text().startswith(f"step {shown}/{steps}:")
