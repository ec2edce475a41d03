"""ONNX graphs built with onnx.helper, checked against onnxruntime by single-pixel perturbation.

For a graph atrous models exactly (not partial), every output unit's receptive-field box, clipped
to the input, is the hull of the input pixels whose perturbation changes that unit in
onnxruntime, and the centre unit's coverage map is non-zero exactly where onnxruntime sees a
change. What atrous cannot model exactly is partial, with the ONNX node named.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from atrous import AtrousError, coverage, receptive_field, to_graph  # noqa: E402

F32 = TensorProto.FLOAT


def make(nodes: list[Any], shape: tuple[int, ...], inits: dict[str, np.ndarray] | None = None,
         opset: int = 17, out: str = "y") -> Any:
    """A model from nodes reading ``x`` (static ``shape``) and writing ``out``."""
    tensors = [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F32, list(shape))],
                          [helper.make_tensor_value_info(out, F32, None)], tensors)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def w(*shape: int) -> np.ndarray:
    return np.full(shape, 0.1, dtype=np.float32)


def i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def ort_changes(model: Any, shape: tuple[int, ...]) -> np.ndarray:
    """changes[p][u]: perturbing input pixel p (all channels) changes output unit u."""
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    base = np.ones(shape, dtype=np.float32)
    y0 = sess.run(None, {"x": base})[0]
    spatial = shape[2:]
    out = []
    for p in itertools.product(*(range(n) for n in spatial)):
        x = base.copy()
        x[(slice(None), slice(None), *p)] += 1.0
        y = sess.run(None, {"x": x})[0]
        out.append((np.abs(y - y0) > 0).any(axis=(0, 1)))
    return np.array(out).reshape(*spatial, *y0.shape[2:])


def check_against_ort(model: Any, shape: tuple[int, ...], boxes: bool = True) -> None:
    """Every output unit: atrous' coverage support (border included) is exactly the set of
    pixels whose perturbation changes it; the box of the units not clipped by the border is
    the hull of that set."""
    rf = receptive_field(model)
    assert not rf.partial, rf.diagnostics
    changes = ort_changes(model, shape)
    nd = len(shape) - 2
    spatial, out_shape = shape[2:], changes.shape[nd:]
    for u in itertools.product(*(range(n) for n in out_shape)):
        want = changes[(..., *u)]
        cov = coverage(model, unit=u)
        seen = np.zeros(spatial, dtype=bool)
        if cov.counts.size:
            region = tuple(slice(o, o + n) for o, n in zip(cov.offset, cov.counts.shape))
            seen[region] = cov.counts > 0
        assert np.array_equal(seen, want), u
        if rf.is_global or not want.any() or not boxes:
            continue
        box = rf.box(u)
        if all(lo >= 0 and hi < n for (lo, hi), n in zip(box, spatial)):
            hit = np.argwhere(want)
            assert box == tuple((int(hit[:, a].min()), int(hit[:, a].max()))
                                for a in range(nd)), u


# -- convolutions and pooling -----------------------------------------------------------------
@pytest.mark.parametrize("auto", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_auto_pad(auto: str) -> None:
    shape = (1, 1, 9, 10)
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="c", auto_pad=auto,
                            strides=[2, 2], kernel_shape=[4, 3])
    check_against_ort(make([conv], shape, {"w": w(1, 1, 4, 3)}), shape)


def test_conv_pads_groups_3d() -> None:
    shape = (1, 2, 5, 6, 7)
    conv = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 0, 2, 0, 1, 1],
                            dilations=[1, 2, 3], group=2)
    check_against_ort(make([conv], shape, {"w": w(2, 1, 2, 3, 2)}), shape)


@pytest.mark.parametrize("attrs", [
    {"strides": [2], "pads": [1, 2], "output_padding": [1]},
    {"strides": [3], "pads": [0, 0], "dilations": [2]},
    {"strides": [2], "output_shape": [14]},
    {"strides": [2], "output_shape": [13], "auto_pad": "SAME_UPPER"},
    {"strides": [2], "pads": [2, 0]},
])
def test_conv_transpose(attrs: dict[str, Any]) -> None:
    shape = (1, 1, 6)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[3], **attrs)
    check_against_ort(make([node], shape, {"w": w(1, 1, 3)}), shape)


@pytest.mark.parametrize("op,attrs", [
    ("MaxPool", {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 1, 1],
                 "ceil_mode": 1}),
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [1, 2], "dilations": [2, 1]}),
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 1, 2, 1]}),
    ("AveragePool", {"kernel_shape": [2, 2], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ("LpPool", {"kernel_shape": [2, 3], "strides": [2, 1]}),
])
def test_pooling(op: str, attrs: dict[str, Any]) -> None:
    shape = (1, 1, 9, 8)
    check_against_ort(make([helper.make_node(op, ["x"], ["y"], **attrs)], shape), shape)


# -- resampling ---------------------------------------------------------------------------------
RESIZES = [
    # (mode, coordinate_transformation_mode, nearest_mode, in, out, via sizes?)
    ("nearest", "asymmetric", "floor", 5, 10, False),
    ("nearest", "half_pixel", "round_prefer_ceil", 6, 12, True),
    ("nearest", "half_pixel", "round_prefer_floor", 4, 12, True),
    ("nearest", "asymmetric", "floor", 7, 12, True),
    ("linear", "half_pixel", "", 5, 13, True),
    ("linear", "pytorch_half_pixel", "", 6, 12, False),
    ("linear", "align_corners", "", 6, 11, True),
    ("linear", "asymmetric", "", 4, 8, False),
    ("linear", "half_pixel", "", 9, 4, True),
    ("cubic", "half_pixel", "", 5, 9, True),
    ("cubic", "align_corners", "", 5, 10, True),
    ("linear", "half_pixel", "", 5, 12, False),  # scales 2.4: sampled with 1/2.4, not 5/12
    ("nearest", "asymmetric", "round_prefer_floor", 4, 10, False),
    ("nearest", "align_corners", "ceil", 6, 11, True),
    ("linear", "half_pixel_symmetric", "", 5, 12, True),
    ("cubic", "asymmetric", "", 6, 9, False),
]
EXACT = set(range(len(RESIZES)))  # every mode above is modelled exactly


@pytest.mark.parametrize("case", range(len(RESIZES)))
def test_resize_modes(case: int) -> None:
    mode, ctm, nearest, n, m, sizes = RESIZES[case]
    shape = (1, 1, n, 2)  # onnxruntime's cubic mode wants 2-D (resized along H only here)
    attrs: dict[str, Any] = {"mode": mode, "coordinate_transformation_mode": ctm}
    if nearest:
        attrs["nearest_mode"] = nearest
    inits: dict[str, np.ndarray] = {}
    if sizes:
        inits["sizes"] = i64(1, 1, m, 2)
        ins = ["x", "", "", "sizes"]
    else:
        inits["scales"] = np.array([1, 1, m / n, 1], dtype=np.float32)
        ins = ["x", "", "scales"]
    model = make([helper.make_node("Resize", ins, ["y"], name="rs", **attrs)], shape, inits)
    g = to_graph(model)
    if g.partial:
        assert case not in EXACT, g.diagnostics
        assert "Resize node 'rs'" in g.diagnostics[0]
        return
    check_against_ort(model, shape)


def test_upsample_opset9() -> None:
    shape = (1, 1, 4, 5)
    node = helper.make_node("Upsample", ["x", "scales"], ["y"], mode="nearest")
    model = make([node], shape, {"scales": np.array([1, 1, 2, 3], dtype=np.float32)}, opset=9)
    assert to_graph(model)[to_graph(model).output].layer.scale == (2, 3)
    check_against_ort(model, shape)


def test_depth_to_space_and_space_to_depth() -> None:
    shape = (1, 4, 6, 4)
    nodes = [helper.make_node("DepthToSpace", ["x"], ["a"], blocksize=2),
             helper.make_node("Conv", ["a", "w"], ["b"], pads=[1, 1, 1, 1]),
             helper.make_node("SpaceToDepth", ["b"], ["y"], blocksize=2)]
    check_against_ort(make(nodes, shape, {"w": w(1, 1, 3, 3)}), shape)


# -- padding, slicing, splitting, merging ------------------------------------------------------
def test_pad_slice_split_concat() -> None:
    shape = (1, 1, 12, 10)
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["p"]),
        helper.make_node("Slice", ["p", "st", "en", "ax", "sp"], ["s"]),
        helper.make_node("Split", ["s", "split"], ["a", "b"], axis=1),
        helper.make_node("Conv", ["a", "w"], ["ca"], dilations=[2, 2], pads=[2, 2, 2, 2]),
        helper.make_node("Concat", ["ca", "b"], ["y"], axis=1),
    ]
    inits = {"pads": i64(0, 0, 1, 2, 0, 0, 2, 0), "st": i64(1, -9), "en": i64(100, -1),
             "ax": i64(2, 3), "sp": i64(2, 1), "split": i64(1, 0), "w": w(1, 1, 3, 3)}
    # Split along channels of a 1-channel tensor into 1 + 0 is not allowed: split spatially
    nodes[2] = helper.make_node("Split", ["s", "split"], ["a", "b"], axis=3)
    inits["split"] = i64(3, 5)
    nodes[4] = helper.make_node("Add", ["ca", "ca2"], ["y"])
    nodes.insert(4, helper.make_node("Conv", ["b", "w"], ["cb"], pads=[1, 1, 1, 1]))
    nodes.insert(5, helper.make_node("Slice", ["cb", "z", "three", "ax3"], ["ca2"]))
    inits.update({"z": i64(0), "three": i64(3), "ax3": i64(3)})
    # a split makes borders inside the map: the exact maps hold, interior boxes do not apply
    check_against_ort(make(nodes, shape, inits), shape, boxes=False)


def test_reflect_padding_is_noted() -> None:
    pad = helper.make_node("Pad", ["x", "pads"], ["y"], name="refl", mode="reflect")
    g = to_graph(make([pad], (1, 1, 8, 8), {"pads": i64(0, 0, 1, 1, 0, 0, 1, 1)}))
    assert not g.partial and g[g.output].layer.padding == ((1, 1), (1, 1))
    assert any(n.startswith("refl (Pad): pads in 'reflect' mode") for n in g.notes)


def test_global_pool_gate_broadcast() -> None:
    shape = (1, 2, 6, 7)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("ReduceMean", ["c"], ["m"], axes=[3], keepdims=1),
             helper.make_node("Sigmoid", ["m"], ["s"]),
             helper.make_node("Mul", ["c", "s"], ["y"])]
    model = make(nodes, shape, {"w": w(2, 2, 3, 3)}, opset=13)
    rf = receptive_field(model)
    assert [ax.is_global for ax in rf.axes] == [False, True]
    check_against_ort(model, shape)


# -- TensorFlow's dilated convolution: SpaceToBatchND -> Conv -> BatchToSpaceND -----------------
def _dilated_reference(shape: tuple[int, ...], rate: int) -> Any:
    conv = helper.make_node("Conv", ["x", "w"], ["y"], dilations=[rate, rate],
                            pads=[rate] * 4)
    return make([conv], shape, {"w": w(1, 1, 3, 3)})


def test_tf2onnx_space_to_depth_rewrite_is_one_dilated_conv() -> None:
    """tf2onnx's form (NCHW after its transpose optimiser): transposes around SpaceToDepth /
    DepthToSpace move the blocks into the batch axis."""
    shape, b = (1, 1, 12, 12), 2
    nodes = [
        helper.make_node("Transpose", ["x"], ["t1"], perm=[1, 0, 2, 3]),
        helper.make_node("Pad", ["t1", "pads"], ["p"]),
        helper.make_node("SpaceToDepth", ["p"], ["s2d"], blocksize=b),
        helper.make_node("Transpose", ["s2d"], ["t2"], perm=[1, 0, 2, 3]),
        helper.make_node("Conv", ["t2", "w"], ["c"], name="atrous_conv"),
        helper.make_node("Transpose", ["c"], ["t3"], perm=[1, 0, 2, 3]),
        helper.make_node("DepthToSpace", ["t3"], ["d2s"], blocksize=b),
        helper.make_node("Transpose", ["d2s"], ["t4"], perm=[1, 0, 2, 3]),
        helper.make_node("Slice", ["t4", "st", "en", "ax"], ["y"]),
    ]
    inits = {"pads": i64(0, 0, 2, 2, 0, 0, 2, 2), "w": w(1, 1, 3, 3), "st": i64(0, 0),
             "en": i64(12, 12), "ax": i64(2, 3)}
    model = make(nodes, shape, inits)
    g = to_graph(model)
    assert not g.partial, g.diagnostics
    conv = g["atrous_conv"].layer
    assert conv.dilation == (2, 2)
    check_against_ort(model, shape)
    ref = receptive_field(_dilated_reference(shape, b))
    assert receptive_field(model).axes == ref.axes


def test_space_to_batch_nd_ops_are_one_dilated_conv() -> None:
    """TensorFlow's own ops (as in a TF graph before conversion), NHWC around an NCHW conv."""
    shape, b = (1, 12, 12, 1), 2
    nodes = [
        helper.make_node("SpaceToBatchND", ["x", "block", "pads"], ["s"], name="s2b"),
        helper.make_node("Transpose", ["s"], ["t1"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["t1", "w"], ["c"], name="atrous_conv"),
        helper.make_node("Transpose", ["c"], ["t2"], perm=[0, 2, 3, 1]),
        helper.make_node("BatchToSpaceND", ["t2", "block", "crops"], ["y"], name="b2s"),
    ]
    inits = {"block": i64(b, b), "pads": i64(2, 2, 2, 2).reshape(2, 2),
             "crops": i64(0, 0, 0, 0).reshape(2, 2), "w": w(1, 1, 3, 3)}
    model = make(nodes, shape, inits)
    g = to_graph(model)
    assert not g.partial, g.diagnostics
    assert g["atrous_conv"].layer.dilation == (2, 2)
    ref = receptive_field(_dilated_reference((1, 1, 12, 12), b))
    assert receptive_field(model).axes == ref.axes


def test_reshape_space_to_batch_is_partial_naming_the_node() -> None:
    """The Reshape/Transpose chain form (non-square blocks) is not recognised: partial."""
    shape = (1, 1, 8, 8)
    nodes = [
        helper.make_node("Reshape", ["x", "s1"], ["r1"], name="s2b_reshape"),
        helper.make_node("Transpose", ["r1"], ["t1"], perm=[3, 5, 0, 1, 2, 4]),
        helper.make_node("Reshape", ["t1", "s2"], ["r2"]),
        helper.make_node("Conv", ["r2", "w"], ["y"]),
    ]
    inits = {"s1": i64(1, 1, 4, 2, 4, 2), "s2": i64(4, 1, 4, 4), "w": w(1, 1, 3, 3)}
    g = to_graph(make(nodes, shape, inits))
    assert g.partial
    assert "s2b_reshape (Reshape node 's2b_reshape')" in g.diagnostics[0]


def test_unknown_and_custom_ops_are_partial_naming_the_node() -> None:
    shape = (1, 1, 8, 8)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("MyOp", ["c"], ["m"], name="mine", domain="com.example"),
             helper.make_node("Einsum", ["c", "m"], ["y"], name="ein", equation="nchw,nchw->nchw")]
    model = make(nodes, shape, {"w": w(1, 1, 3, 3)})
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    g = to_graph(model)
    text = " ".join(g.diagnostics)
    assert g.partial and "MyOp node 'mine'" in text and "Einsum node 'ein'" in text
    assert receptive_field(model).partial


# -- bad inputs ----------------------------------------------------------------------------------
def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    good = make([helper.make_node("Conv", ["x", "w"], ["y"])], (1, 1, 8, 8),
                {"w": w(1, 1, 3, 3)})
    out: dict[str, tuple[Path, str]] = {}
    out["missing"] = (tmp / "nothere.onnx", "no ONNX file at")
    (tmp / "text.onnx").write_text("this is not a model\n" * 3)
    out["not onnx"] = (tmp / "text.onnx", "not")
    raw = good.SerializeToString()
    (tmp / "cut.onnx").write_bytes(raw[: len(raw) // 2])
    out["truncated"] = (tmp / "cut.onnx", "not")
    ext = make([helper.make_node("Conv", ["x", "w"], ["y"])], (1, 1, 8, 8),
               {"w": np.full((1, 1, 30, 30), 0.1, np.float32)})
    onnx.save(ext, str(tmp / "ext.onnx"), save_as_external_data=True, location="ext.bin",
              size_threshold=0)
    (tmp / "ext.bin").unlink()
    out["external"] = (tmp / "ext.onnx", "external data that is missing")
    cyc = make([helper.make_node("Relu", ["x", "b"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
                helper.make_node("Relu", ["a"], ["y"])], (1, 1, 8, 8))
    onnx.save(cyc, str(tmp / "cycle.onnx"))
    out["cycle"] = (tmp / "cycle.onnx", "cycle")
    undef = make([helper.make_node("Add", ["x", "ghost"], ["y"], name="plus")], (1, 1, 8, 8))
    onnx.save(undef, str(tmp / "undefined.onnx"))
    out["undefined"] = (tmp / "undefined.onnx", "'ghost'")
    future = make([helper.make_node("Relu", ["x"], ["y"])], (1, 1, 8, 8), opset=99)
    onnx.save(future, str(tmp / "future.onnx"))
    out["opset"] = (tmp / "future.onnx", "opset 99")
    return out


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return _bad_files(tmp_path_factory.mktemp("bad_onnx"))


@pytest.mark.parametrize("case", ["missing", "not onnx", "truncated", "external", "cycle",
                                  "undefined", "opset"])
def test_bad_inputs_one_line_errors(case: str, bad_files: dict[str, tuple[Path, str]],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from atrous.cli import main

    path, words = bad_files[case]
    with pytest.raises(AtrousError, match=words) as info:
        receptive_field(path)
    assert "\n" not in str(info.value)
    capsys.readouterr()
    assert main(["model", str(path), "--input", "1x1x8x8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("atrous model: error:") and words in err
    assert "Traceback" not in err


def test_cli_model_and_report_read_onnx(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from atrous.cli import main

    model = _dilated_reference((1, 1, 16, 16), 3)
    path = tmp_path / "dil.onnx"
    onnx.save(model, str(path))
    assert main(["model", str(path), "--input", "1x1x16x16", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"]["method"] == "onnx" and data["outputs"][0]["rf"]["size"] == [7, 7]
    assert main(["model", str(path), "--input", "1x1x16x16"]) == 0
    assert "read from ONNX" in capsys.readouterr().out
    # a static input shape needs no --input; a PyTorch model does
    assert main(["model", str(path), "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"]["input"] == [1, 1, 16, 16] and data["outputs"][0]["rf"]["size"] == [7, 7]
    assert main(["model", "torch.nn:Identity"]) == 2
    assert "needs --input" in capsys.readouterr().err
    out = tmp_path / "r.html"
    assert main(["report", str(path), "-o", str(out)]) == 0
    assert out.read_text().count("<html") == 1


def test_import_atrous_does_not_import_onnx() -> None:
    code = ("import sys, atrous; atrous.receptive_field('3x3 d2'); atrous.as_graph('3x3');"
            "print('onnx' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip() == "False"


def test_without_onnx_installed_says_how_to_install() -> None:
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import atrous\n"
            "try:\n    atrous.receptive_field('model.onnx')\n"
            "except atrous.AtrousError as e:\n    print(e)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "pip install atrous[onnx]" in res.stdout and res.stdout.count("\n") == 1


def test_channels_last_input_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An NHWC model: a full input_size is read in the model's own layout."""
    from atrous.cli import main

    shape = (1, 12, 10, 2)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "w"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Resize", ["c", "", "", "sz"], ["y"], mode="linear")]
    model = make(nodes, shape, {"w": w(2, 2, 3, 3), "sz": i64(1, 2, 12, 10)})
    g = to_graph(model)
    assert not g.partial and g.input_shape == (1, 2, 12, 10)
    rf = receptive_field(model, shape)
    assert rf.size == receptive_field(model).size and not rf.partial
    assert coverage(model, input_size=shape).input_size == (12, 10)
    path = tmp_path / "nhwc.onnx"
    onnx.save(model, str(path))
    assert main(["model", str(path), "--input", "1x12x10x2", "--json", "-"]) == 0
    assert '"partial": false' in capsys.readouterr().out


def test_control_flow_reading_the_input_is_partial() -> None:
    """An ``If`` whose branches read a map from outside: opaque, not a constant."""
    shape = (1, 1, 8, 8)
    out = helper.make_tensor_value_info("o", F32, None)
    then = helper.make_graph([helper.make_node("Relu", ["c"], ["o"])], "then", [], [out])
    other = helper.make_graph([helper.make_node("Neg", ["c"], ["o"])], "else", [], [out])
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then,
                              else_branch=other)]
    model = make(nodes, shape, {"w": w(1, 1, 3, 3), "cond": np.array(True)})
    g = to_graph(model)
    assert g.partial and "If node 'branch'" in " ".join(g.diagnostics)


def test_file_read_without_large_weights_gives_the_same_graph(tmp_path: Path) -> None:
    """Large weights are skipped when a file is read; small constants (pads) are kept."""
    from atrous.onnx._load import load_model

    shape = (1, 64, 12, 12)
    nodes = [helper.make_node("Pad", ["x", "pads"], ["p"]),
             helper.make_node("Conv", ["p", "big"], ["y"], dilations=[2, 2])]
    model = make(nodes, shape, {"pads": i64(0, 0, 2, 2, 0, 0, 2, 2), "big": w(64, 64, 3, 3)})
    path = tmp_path / "big.onnx"
    onnx.save(model, str(path))
    proto, name, stripped = load_model(path)
    assert stripped == {"big"} and name == "big"
    assert not next(t for t in proto.graph.initializer if t.name == "big").raw_data
    a, b = to_graph(path), to_graph(model)
    assert [(n.name, n.layer, n.meta["params"]) for n in a.layer_nodes()] == [
        (n.name, n.layer, n.meta["params"]) for n in b.layer_nodes()]
    assert receptive_field(path).size == (5, 5)
    ext = tmp_path / "ext"
    ext.mkdir()
    onnx.save(model, str(ext / "m.onnx"), save_as_external_data=True, location="w.bin",
              size_threshold=0)
    assert load_model(ext / "m.onnx")[2] == {"big"}
    assert [n.layer for n in to_graph(ext / "m.onnx").layer_nodes()] == [
        n.layer for n in b.layer_nodes()]


def test_huge_constants_are_not_folded() -> None:
    """A ConstantOfShape of 10^10 elements next to the model is left alone (no memory blow-up)."""
    nodes = [helper.make_node("ConstantOfShape", ["s"], ["big"]),
             helper.make_node("Conv", ["x", "w"], ["y"])]
    model = make(nodes, (1, 1, 8, 8), {"s": i64(100000, 100000), "w": w(1, 1, 3, 3)})
    assert receptive_field(model).size == (3, 3)
