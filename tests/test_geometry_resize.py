"""Interpolation geometry against the runtimes themselves.

PyTorch: the inputs each output of ``F.interpolate`` reads with a nonzero weight, in both its
``size=`` and ``scale_factor=`` forms, with ``recompute_scale_factor`` None/False/True and
``align_corners``. PyTorch samples with ``1/scale_factor`` unless the scale is recomputed, so a
non-integer scale reads other pixels than the output/input size ratio would. The reference is
the forward pass probed with one-hot inputs (the columns of the linear map), checked against the
autograd Jacobian where PyTorch's backward agrees with its forward: it does not for an axis whose
size is unchanged, or doubled, by a scale that is not exactly 1 or 2 (the backward kernels copy
there, the 1-D/3-D ``nearest`` and the ``bicubic`` forward kernels sample with the scale).
ONNX: onnxruntime's ``Resize`` probed with one-hot inputs, for every
``coordinate_transformation_mode`` and ``nearest_mode`` modelled.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from atrous import AtrousError, coverage
from atrous.geometry import Identity, Sample, Taps, interpolation
from atrous.graph import chain
from atrous.layers import Conv, Resize

NOISE = 1e-9  # float64 weights of a source that lands (up to rounding) on a pixel


def torch_reads(n: int, mode: str, rank: int = 1, **kw: object) -> list[list[int]]:
    """Inputs with a nonzero weight for every output of ``F.interpolate`` along its last axis.

    Runs ``n`` one-hot inputs as a batch (the other spatial axes have size 1 and scale 1);
    bicubic is 2-D only. Nearest modes run in float32, whose index arithmetic atrous
    reproduces; the others in float64 (see ``NOISE``).
    """
    rank = 2 if mode == "bicubic" else rank
    dtype = torch.float32 if mode.startswith("nearest") else torch.float64
    eye = torch.eye(n, dtype=dtype).reshape(n, 1, *([1] * (rank - 1)), n)
    sf = kw.pop("scale_factor", None)
    size = kw.pop("size", None)
    if sf is not None:
        kw["scale_factor"] = (1.0,) * (rank - 1) + (sf,)
    else:
        kw["size"] = (1,) * (rank - 1) + (size,)
    out = F.interpolate(eye, mode=mode, **kw).reshape(n, -1)  # type: ignore[arg-type]
    return [torch.nonzero(out[:, o].abs() > NOISE).flatten().tolist()
            for o in range(out.shape[1])]


def jacobian_reads(n: int, mode: str, **kw: object) -> list[list[int]]:
    """The same from the autograd Jacobian of a 1-D interpolation."""
    jac = torch.autograd.functional.jacobian(
        lambda t: F.interpolate(t[None, None], mode=mode, **kw)[0, 0],  # type: ignore[arg-type]
        torch.zeros(n, dtype=torch.float64),
    )
    return [torch.nonzero(row.abs() > NOISE).flatten().tolist() for row in jac]


def layer_for(n: int, mode: str, sf: float, recompute: bool | None, align: bool,
              rank: int = 1) -> Resize:
    """The layer the torch front end builds for ``F.interpolate(scale_factor=sf, ...)`` (the
    resized axis is the last one)."""
    m = math.floor(n * sf)
    sampled = None if recompute else (1.0,) * (rank - 1) + (sf,)
    return Resize((1,) * (rank - 1) + (m,), mode, align,  # type: ignore[arg-type]
                  scale_factor=sampled)


MODES = [("nearest", False), ("nearest-exact", False), ("linear", False), ("linear", True),
         ("bicubic", False), ("bicubic", True)]


@pytest.mark.parametrize(
    ("n", "sf", "mode"),
    [(23, 2.5, "linear"), (10, 0.75, "nearest"), (23, 2.05, "nearest-exact")],
)
def test_the_reported_cases_read_what_pytorch_reads(n: int, sf: float, mode: str) -> None:
    want = torch_reads(n, mode, scale_factor=sf)
    layer = Resize(None, mode, ndim=1, scale_factor=sf)  # type: ignore[arg-type]
    assert layer.output_size((n,)) == (len(want),)
    assert [layer.reads(0, n, o) for o in range(len(want))] == want
    # the output/input ratio (what atrous modelled before) reads other pixels
    ratio = Resize(len(want), mode, ndim=1)  # type: ignore[arg-type]
    assert [ratio.reads(0, n, o) for o in range(len(want))] != want
    if mode == "linear":  # the backward pass agrees here
        assert jacobian_reads(n, mode, scale_factor=sf) == want


@pytest.mark.parametrize(("mode", "align"), [*MODES, ("nearest", None)])
def test_scale_factor_sweep_against_pytorch(mode: str, align: bool | None) -> None:
    rank = 2 if mode == "bicubic" or align is None else 1  # ("nearest", None): the 2-D kernel
    kw_align = {} if mode.startswith("nearest") else {"align_corners": align}
    for n in (7, 16, 20, 23):
        for sf in (0.3, 0.55, 0.75, 1.04, 1.3, 1.5, 2.04, 2.5, 3.3):
            for recompute in (None, False, True):
                want = torch_reads(n, mode, rank, scale_factor=sf,
                                   recompute_scale_factor=recompute, **kw_align)
                layer = layer_for(n, mode, sf, recompute, bool(align), rank)
                assert layer.output_size((1,) * (rank - 1) + (n,))[-1] == len(want)
                got = [layer.reads(rank - 1, n, o) for o in range(len(want))]
                assert got == want, (n, sf, recompute)


@pytest.mark.parametrize(("mode", "align"), MODES)
def test_size_form_against_autograd(mode: str, align: bool) -> None:
    kw_align = {} if mode.startswith("nearest") else {"align_corners": align}
    for n, m in [(7, 3), (9, 20), (13, 13), (10, 20), (23, 57)]:
        want = torch_reads(n, mode, size=m, **kw_align)
        layer = Resize(m, mode, align, ndim=1)  # type: ignore[arg-type]
        assert [layer.reads(0, n, o) for o in range(m)] == want, (n, m)
        if mode != "bicubic":  # the backward pass agrees with the forward without a scale
            assert jacobian_reads(n, mode, size=m, **kw_align) == want


def test_coverage_through_a_scaled_resize_matches_path_counting() -> None:
    n, sf = 29, 2.5
    ones = torch.ones(1, 1, 3, dtype=torch.float64)

    def support(fn: object, size: int) -> np.ndarray:
        jac = torch.autograd.functional.jacobian(fn, torch.zeros(size, dtype=torch.float64))
        return (jac.abs() > NOISE).numpy().astype(np.int64)

    n1 = n - 2
    m = math.floor(n1 * sf)
    paths = (
        support(lambda t: F.conv1d(t[None, None], ones, padding=1)[0, 0], m)
        @ support(lambda t: F.interpolate(t[None, None], scale_factor=sf, mode="linear")[0, 0],
                  n1)
        @ support(lambda t: F.conv1d(t[None, None], ones)[0, 0], n)
    )
    g = chain(Conv(3, ndim=1), Resize(None, "linear", ndim=1, scale_factor=sf),
              Conv(3, padding=1, ndim=1))
    for unit in (0, m // 3, m - 1):
        cov = coverage(g, input_size=n, unit=unit)
        full = np.zeros(n, dtype=np.int64)
        full[cov.offset[0] : cov.offset[0] + cov.counts.shape[0]] = cov.counts
        assert full.tolist() == paths[unit].tolist(), unit


def test_receptive_field_stride_is_the_sampling_step() -> None:
    from atrous import receptive_field

    rf = receptive_field(chain(Conv(3, ndim=1), Resize(None, "linear", ndim=1, scale_factor=2.5)),
                         input_size=40)
    assert rf.stride == (Fraction(2, 5),) and not rf.partial


def test_geometry_records() -> None:
    assert interpolation("linear", 10, 10) == Identity()
    assert isinstance(interpolation("linear", 1, 5), Sample)  # every output reads pixel 0
    assert Resize((1, 20), "nearest", scale_factor=(1, 2.04)).axis_geometry(1, 10) == Sample(
        "nearest", Fraction(1, 2), Fraction(0), 10)  # PyTorch's 2-D x2 shortcut
    assert Conv(3, 2, 1, 2, ndim=1).axis_geometry(0) == Taps(2, 1, 2, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": None}, "needs an output size or a scale_factor"),
        ({"size": 5, "scale_factor": 0}, "scale_factor must be > 0"),
        ({"size": 5, "scale_factor": float("nan")}, "finite number"),
        ({"size": 5, "coordinate_mode": "tf_crop_and_resize"}, "coordinate_mode must be one of"),
        ({"size": 5, "mode": "linear", "nearest_mode": "floor",
          "coordinate_mode": "half_pixel"}, "nearest_mode applies"),
        ({"size": 5, "mode": "nearest", "nearest_mode": "up",
          "coordinate_mode": "half_pixel"}, "nearest_mode must be one of"),
        ({"size": 5, "mode": "linear", "align_corners": True,
          "coordinate_mode": "half_pixel"}, "align_corners=True is PyTorch's rule"),
    ],
)
def test_bad_resize_arguments(kwargs: dict[str, object], message: str) -> None:
    size = kwargs.pop("size")
    with pytest.raises(AtrousError, match=message):
        Resize(size, ndim=1, **kwargs)  # type: ignore[arg-type]


# -- ONNX Resize, against onnxruntime ----------------------------------------------------------
def _ort_reads(n: int, m: int, mode: str, coord: str, nearest: str,
               scale: float | None) -> list[list[int]]:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    attrs = {"mode": mode, "coordinate_transformation_mode": coord}
    if mode == "nearest":
        attrs["nearest_mode"] = nearest
    inputs = ["x", "", "scales"] if scale is not None else ["x", "", "", "sizes"]
    init = (
        [helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, 1.0, scale])]
        if scale is not None
        else [helper.make_tensor("sizes", TensorProto.INT64, [4], [n, 1, 1, m])]
    )
    node = helper.make_node("Resize", inputs, ["y"], **attrs)
    graph = helper.make_graph(
        [node], "r", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, 1, 1, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    eye = np.eye(n, dtype=np.float32).reshape(n, 1, 1, n)
    (y,) = sess.run(None, {"x": eye})
    weights = y.reshape(n, -1)  # input i, output o
    assert onnx is not None
    return [np.flatnonzero(np.abs(weights[:, o]) > 1e-5).tolist() for o in range(y.shape[-1])]


@pytest.mark.parametrize("coord", ["half_pixel", "pytorch_half_pixel", "align_corners",
                                   "asymmetric", "half_pixel_symmetric"])
def test_onnx_resize_matches_onnxruntime(coord: str) -> None:
    cases = [("nearest", nm) for nm in ("round_prefer_floor", "round_prefer_ceil", "floor",
                                         "ceil")] + [("linear", ""), ("cubic", "")]
    for mode, nearest in cases:
        for n, m, scale in [(6, 15, None), (9, 4, None), (10, 25, 2.5), (12, 9, 0.75)]:
            want = _ort_reads(n, m, mode, coord, nearest, scale)
            ours = "bicubic" if mode == "cubic" else mode
            layer = Resize(None if scale else m, ours, ndim=1,  # type: ignore[arg-type]
                           scale_factor=scale, coordinate_mode=coord,  # type: ignore[arg-type]
                           nearest_mode=nearest or None)  # type: ignore[arg-type]
            assert layer.output_size((n,)) == (len(want),)
            got = [layer.reads(0, n, o) for o in range(len(want))]
            assert got == want, (mode, nearest, n, m, scale)
