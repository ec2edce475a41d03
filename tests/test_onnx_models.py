"""ONNX exports of real architectures against the torch front end and autograd impulse responses.

Each model is exported once per session (module-scoped fixture, small inputs) with the
TorchScript exporter. For every model: the receptive field of the output read from the ONNX file
(size, effective stride, centre, global flags) and its coverage map equal the torch front end's
exactly, and the box of the centre unit (and of the unit one period further along each axis)
equals the support of the autograd impulse response of a positive-weight copy of the model.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from models_for_tests import (  # noqa: E402
    ASPPHead,
    C,
    ResNetLike,
    ShuffleNetLike,
    UNetLike,
    WaveNet,
    dilated_3d,
    mobilenet_v2_like,
    positive_,
    se_net,
    strip_gate,
    swap_max_pools,
    vgg_like,
)

from atrous import coverage, receptive_field, to_graph  # noqa: E402


def export(model: nn.Module, shape: tuple[int, ...], path: Path | None = None,
           dynamo: bool = False, **kw: Any) -> Any:
    """The ONNX export of ``model`` at ``shape`` (a ModelProto, also saved to ``path``)."""
    model.eval()
    x = torch.zeros(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            prog = torch.onnx.export(model, (x,), dynamo=True, verbose=False, **kw)
            proto = prog.model_proto
        else:
            buf = io.BytesIO()
            torch.onnx.export(model, (x,), buf, dynamo=False, **kw)
            proto = onnx.load_from_string(buf.getvalue())
    if path is not None:
        onnx.save(proto, str(path))
    return proto


def support_hull(model: nn.Module, shape: tuple[int, ...],
                 unit: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Per-axis (lo, hi) of the input pixels with a non-zero gradient for one output unit."""
    x = torch.ones(shape, dtype=torch.float64, requires_grad=True)
    y = model(x)
    y[(0, slice(None), *unit)].sum().backward()
    assert x.grad is not None
    nz = (x.grad[0].abs().sum(0) > 0).nonzero()
    return tuple((int(nz[:, a].min()), int(nz[:, a].max())) for a in range(nz.shape[1]))


# -- the architectures ---------------------------------------------------------------------------
class TConvDecoder(nn.Module):
    """Encoder with strided convs, decoder with transposed convs (output_padding, k=4 p=1)."""

    def __init__(self) -> None:
        super().__init__()
        self.e1 = nn.Conv2d(3, C, 3, 2, 1)
        self.e2 = nn.Conv2d(C, C, 3, 2, 2, dilation=2)
        self.d1 = nn.ConvTranspose2d(C, C, 3, 2, 1, output_padding=1)
        self.d2 = nn.ConvTranspose2d(C, 1, 4, 2, 1)

    def forward(self, x: Any) -> Any:
        return self.d2(F.relu(self.d1(F.relu(self.e2(F.relu(self.e1(x)))))))


class Interp(nn.Module):
    """F.interpolate: nearest x2, bilinear to a size (non-integer ratio), align_corners."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, C, 3, 2, 1)
        self.c2 = nn.Conv2d(C, C, 3, 2, 1)
        self.c3 = nn.Conv2d(C, C, 3, padding=2, dilation=2)

    def forward(self, x: Any) -> Any:
        y = self.c2(self.c1(x))
        y = F.interpolate(y, scale_factor=2, mode="nearest")
        y = self.c3(y)
        y = F.interpolate(y, size=(13, 13), mode="bilinear", align_corners=True)
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


class DeepLabHeadNet(nn.Module):
    """A dilated backbone (OS 16) and DeepLabv3's head (ASPP), upsampled to the input size."""

    def __init__(self) -> None:
        super().__init__()
        from atrous.nn.aspp import ASPP

        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, 2, 1), nn.ReLU(), nn.Conv2d(C, C, 3, 2, 1),
                                  nn.ReLU(), nn.Conv2d(C, C, 3, 2, 1), nn.ReLU(),
                                  nn.Conv2d(C, C, 3, 2, 1), nn.ReLU(),
                                  nn.Conv2d(C, C, 3, 1, 2, dilation=2))
        self.aspp = ASPP(C, C, rates=(2, 4, 6))
        self.cls = nn.Conv2d(C, 2, 1)

    def forward(self, x: Any) -> Any:
        y = self.cls(self.aspp(self.stem(x)))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


def resnet_os16() -> nn.Module:
    """ResNetLike with only the last stage dilated (output stride 16)."""
    from models_for_tests import Bottleneck

    net = ResNetLike()
    net.layer4 = nn.Sequential(Bottleneck(2 * C, C, 1, 2))
    return net


def causal_stack() -> nn.Module:
    from atrous.nn.temporal import CausalDilatedStack

    return CausalDilatedStack(2, kernel_size=3, dilations=(1, 2, 4, 8))


def hdc_stack() -> nn.Module:
    return nn.Sequential(*[nn.Sequential(nn.Conv2d(3 if i == 0 else C, C, 3, padding=r,
                                                   dilation=r), nn.ReLU())
                           for i, r in enumerate((1, 2, 5, 1, 2, 5))])


def separable() -> nn.Module:
    """Depthwise-separable atrous convs (Xception / DeepLabv3+ style) with a strided pool."""
    return nn.Sequential(
        nn.Conv2d(3, C, 3, 2, 1), nn.BatchNorm2d(C), nn.ReLU(),
        nn.Conv2d(C, C, 3, padding=2, dilation=2, groups=C), nn.Conv2d(C, 2 * C, 1),
        nn.AvgPool2d(3, 2, 1), nn.Conv2d(2 * C, 2 * C, 3, padding=4, dilation=4, groups=2 * C),
        nn.Conv2d(2 * C, C, 1), nn.Hardswish(),
    )


def classifier() -> nn.Module:
    """A map flattened into a linear layer (Flatten -> Gemm): every output sees every pixel."""
    return nn.Sequential(nn.Conv2d(3, C, 3, 2, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(C * 16, 3))


ARCHS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "resnet_os8": (lambda: ResNetLike(dilated=True), (1, 3, 160, 160)),
    "resnet_os16": (resnet_os16, (1, 3, 160, 160)),
    "deeplab_head": (DeepLabHeadNet, (1, 3, 64, 64)),
    "aspp_head": (ASPPHead, (1, C, 40, 40)),
    "wavenet": (lambda: WaveNet(2, 6), (1, 1, 160)),
    "causal_stack": (causal_stack, (1, 2, 96)),
    "dilated_3d": (dilated_3d, (1, 1, 16, 20, 24)),
    "tconv_decoder": (TConvDecoder, (1, 3, 32, 32)),
    "unet": (UNetLike, (1, 3, 48, 48)),
    "interp": (Interp, (1, 3, 32, 32)),
    "mobilenet": (mobilenet_v2_like, (1, 3, 64, 64)),
    "separable": (separable, (1, 3, 64, 64)),
    "vgg": (vgg_like, (1, 3, 48, 48)),
    "shufflenet": (ShuffleNetLike, (1, 3, 32, 32)),
    "se_net": (se_net, (1, 3, 24, 24)),
    "strip_gate": (strip_gate, (1, 3, 24, 24)),
    "hdc": (hdc_stack, (1, 3, 48, 48)),
    "classifier": (classifier, (1, 3, 16, 16)),
}
GLOBAL = {"aspp_head", "se_net", "strip_gate", "deeplab_head", "classifier"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every architecture exported once (TorchScript exporter), seed 0."""
    folder = tmp_path_factory.mktemp("onnx_models")
    out = {}
    for name, (build, shape) in ARCHS.items():
        torch.manual_seed(0)
        out[name] = folder / f"{name}.onnx"
        export(build(), shape, out[name])
    return out


def _same_rf(a: Any, b: Any) -> None:
    assert a.size == b.size
    assert a.stride == b.stride
    assert a.start == b.start
    assert a.is_global == b.is_global
    assert [ax.is_global for ax in a.axes] == [ax.is_global for ax in b.axes]
    assert [ax.boxes for ax in a.axes] == [ax.boxes for ax in b.axes]


@pytest.mark.parametrize("name", list(ARCHS))
def test_onnx_equals_torch_front_end(name: str, exported: dict[str, Path]) -> None:
    build, shape = ARCHS[name]
    torch.manual_seed(0)
    model = build()
    g = to_graph(exported[name])  # static input shape: no input_size needed
    assert g.method == "onnx" and not g.partial, g.diagnostics
    assert g.input_shape == shape
    traced = to_graph(model, shape)  # the torch front end, traced once
    rf = receptive_field(exported[name])
    ref = receptive_field(traced, shape)
    assert not rf.partial and not ref.partial, (rf.diagnostics, ref.diagnostics)
    _same_rf(rf, ref)
    assert rf.is_global == (name in GLOBAL)
    spatial = shape[2:]
    cov = coverage(exported[name])
    cov_ref = coverage(traced, input_size=shape)
    assert cov.counts.shape == cov_ref.counts.shape
    assert np.array_equal(cov.counts, cov_ref.counts)
    assert cov.box == cov_ref.box
    # the same coverage with the input size given explicitly (full or spatial)
    assert np.array_equal(coverage(exported[name], input_size=spatial).counts, cov.counts)


@pytest.mark.parametrize("name", [n for n in ARCHS if n not in GLOBAL])
def test_onnx_rf_equals_impulse_response(name: str, exported: dict[str, Path]) -> None:
    build, shape = ARCHS[name]
    rf = receptive_field(exported[name])
    torch.manual_seed(0)
    ref = positive_(swap_max_pools(build()))
    out_shape = tuple(ref(torch.ones(shape, dtype=torch.float64)).shape[2:])
    u0 = tuple(s // 2 for s in out_shape)
    hull0 = support_hull(ref, shape, u0)
    n = shape[2:]
    clip = tuple((max(lo, 0), min(hi, m - 1)) for (lo, hi), m in zip(rf.box(u0), n))
    assert clip == hull0
    for axis, ax in enumerate(rf.axes):
        u1 = tuple(u + (ax.period if a == axis else 0) for a, u in enumerate(u0))
        if u1[axis] >= out_shape[axis]:
            continue
        hull1 = support_hull(ref, shape, u1)
        clip1 = tuple((max(lo, 0), min(hi, m - 1)) for (lo, hi), m in zip(rf.box(u1), n))
        assert clip1 == hull1


def test_global_models_reach_every_pixel(exported: dict[str, Path]) -> None:
    for name, unit in (("se_net", (0, 0)), ("aspp_head", (0, 0)), ("classifier", ())):
        build, shape = ARCHS[name]
        assert receptive_field(exported[name]).is_global
        ref = positive_(swap_max_pools(build()))
        assert support_hull(ref, shape, unit) == tuple((0, s - 1) for s in shape[2:])


def test_node_names_come_from_the_onnx_graph(exported: dict[str, Path]) -> None:
    g = to_graph(exported["resnet_os8"])
    names = [n.name for n in g.layer_nodes()]
    assert "conv1" in names and "maxpool" in names
    assert any(n.startswith("layer3.0.conv2") for n in names)
    node = g[next(n for n in names if n.startswith("layer3.0.conv2"))]
    assert node.layer.dilation == (2, 2)
    assert node.meta["target"] == "Conv" and node.meta["onnx_node"].startswith("/layer3/")
    assert node.meta["shape"][2:] == (20, 20)
    assert node.meta["params"] > 0


def test_symbolic_input_needs_input_size(tmp_path: Path) -> None:
    from atrous import AtrousError

    path = tmp_path / "dyn.onnx"
    export(hdc_stack(), (1, 3, 32, 32), path, input_names=["image"],
           dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}})
    with pytest.raises(AtrousError, match="input 'image' has symbolic dimensions"):
        to_graph(path)
    rf = receptive_field(path, (1, 3, 40, 40))
    assert rf.size == (33, 33) and not rf.partial  # 1 + 2 * 2 * (1 + 2 + 5)
    g = to_graph(path, (1, 3, 40, 44))
    assert g.shapes((40, 44))[g.output] == (40, 44)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet_os8", "deeplab_head", "unet", "interp", "wavenet",
                                  "tconv_decoder", "mobilenet", "dilated_3d"])
def test_dynamo_exporter_equals_torch_front_end(name: str, tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    build, shape = ARCHS[name]
    torch.manual_seed(0)
    model = build()
    proto = export(model, shape, dynamo=True)
    g = to_graph(proto)
    assert not g.partial, g.diagnostics
    _same_rf(receptive_field(proto), receptive_field(model, shape))
    assert np.array_equal(coverage(proto).counts, coverage(model, input_size=shape).counts)


def test_analyze_and_layer_gridding_read_onnx(exported: dict[str, Path]) -> None:
    from atrous import analyze, layer_gridding

    build, shape = ARCHS["hdc"]
    torch.manual_seed(0)
    traced = to_graph(build(), shape)
    rep, ref = analyze(exported["hdc"]), analyze(traced, shape)
    assert rep.status == ref.status == "complete"
    assert [v.to_dict() for v in rep.verdicts()] == [v.to_dict() for v in ref.verdicts()]
    rows = [(r.rf_size, r.holes) for r in layer_gridding(exported["hdc"]) if r.op == "conv"]
    want = [(r.rf_size, r.holes) for r in layer_gridding(traced, input_size=shape)
            if r.op == "conv"]
    assert rows == want and len(rows) == 6


@pytest.mark.parametrize("name", ["deeplab_head", "unet", "mobilenet"])
def test_conv_module_paths_equal_the_torch_front_end(name: str,
                                                     exported: dict[str, Path]) -> None:
    build, shape = ARCHS[name]
    torch.manual_seed(0)
    traced = to_graph(build(), shape)
    want = [n.meta["module"] for n in traced.layer_nodes() if n.layer.kind == "conv"]
    got = [n.meta["module"] for n in to_graph(exported[name]).layer_nodes()
           if n.meta["target"] == "Conv"]
    assert got == want
