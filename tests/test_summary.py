"""atrous.summary: the model table's rows, totals and memory against torch itself.

References: the parameters torch reports per submodule (``get_submodule(path).parameters()``),
the weights' shapes, and torchinfo's forward/backward size measured by forward hooks on a real
forward pass (the output of every layer that has parameters, twice).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch
from models_for_tests import ResNetLike, se_net

from atrous import schemas
from atrous.errors import AtrousError
from atrous.fx import to_graph
from atrous.summary import MemoryEstimate, ModelSummary, summarize

SHAPE = (1, 3, 32, 32)


@pytest.fixture(scope="module")
def resnet() -> tuple[torch.nn.Module, ModelSummary]:
    torch.manual_seed(0)
    model = ResNetLike()
    model.layer2.requires_grad_(False)  # a frozen stage: trainable != params there
    return model, summarize(to_graph(model, SHAPE), [SHAPE], model=model)


def _torch_params(model: torch.nn.Module, path: str, trainable: bool = False) -> int:
    mod = model.get_submodule(path)
    return sum(p.numel() for p in mod.parameters() if p.requires_grad or not trainable)


def test_flat_rows_carry_torch_weights_and_trainable_counts(
        resnet: tuple[torch.nn.Module, ModelSummary]) -> None:
    model, s = resnet
    rows = s.table()
    assert len(rows) == len(s.report.rows) and not any(r.header for r in rows)
    convs = [r for r in rows if r.op == "Conv2d"]
    assert len(convs) == 17  # stem + 4 blocks x (3 convs + downsample)
    for r in convs:
        weight = model.get_submodule(r.module).weight
        assert r.kernel == tuple(weight.shape)
        assert r.params == weight.numel()  # bias=False everywhere
        assert r.trainable == _torch_params(model, r.module, trainable=True)
    frozen = [r for r in convs if r.module.startswith("layer2.")]
    assert frozen and all(r.trainable == 0 and r.params > 0 for r in frozen)
    assert s.params == sum(p.numel() for p in model.parameters())


def test_grouped_rows_sum_what_torch_counts_per_module(
        resnet: tuple[torch.nn.Module, ModelSummary]) -> None:
    model, s = resnet
    one = s.table(depth=1)
    assert [r.module for r in one] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2",
                                      "layer3", "layer4"]
    for r in one:
        assert r.params == _torch_params(model, r.module), r.module
        assert r.trainable == _torch_params(model, r.module, trainable=True), r.module
    stages = {r.module: r for r in one}
    assert stages["layer1"].layers == len([x for x in s.report.rows
                                          if x.meta["module"].startswith("layer1.")])
    assert stages["layer1"].op == f"{stages['layer1'].layers} layers"
    assert stages["layer1"].kernel == () and stages["layer1"].geometry == ""
    last = [x for x in s.report.rows if x.meta["module"].startswith("layer4.")][-1]
    assert stages["layer4"].rf == last.rf and stages["layer4"].shape == tuple(last.meta["shape"])
    two = s.table(depth=2)
    headers = [r for r in two if r.header]
    assert [h.module for h in headers] == ["layer1", "layer2", "layer3", "layer4"]
    for h in headers:  # a header sums its whole module, like torchinfo's nested rows
        assert (h.level, h.rf, h.shape, h.trainable) == (0, None, None, None)
        assert h.params == _torch_params(model, h.module)
    assert {r.level for r in two if r.module.startswith("layer1.")} == {1}
    with pytest.raises(AtrousError, match="depth must be >= 1"):
        s.table(depth=0)


def test_memory_follows_torchinfos_definitions(
        resnet: tuple[torch.nn.Module, ModelSummary]) -> None:
    model, s = resnet
    mem = s.memory
    assert mem is not None
    params = list(model.parameters())
    assert mem.params == sum(p.numel() for p in params)
    assert mem.trainable == sum(p.numel() for p in params if p.requires_grad)
    assert mem.frozen == _torch_params(model, "layer2") > 0
    assert mem.param_bytes == 4 * mem.params
    assert mem.buffer_bytes == sum(b.numel() * b.element_size() for b in model.buffers())
    assert mem.input_bytes == 4 * math.prod(SHAPE)
    # forward/backward: every module with its own parameters, measured on a real forward pass
    outputs: list[int] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out.numel()))
             for m in model.modules() if list(m.parameters(recurse=False))]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(SHAPE))
    finally:
        for h in hooks:
            h.remove()
    assert mem.forward_backward_bytes == 2 * 4 * sum(outputs)
    assert mem.total_bytes == mem.input_bytes + mem.forward_backward_bytes + mem.param_bytes


def test_a_shared_parameter_counts_once() -> None:
    conv = torch.nn.Conv2d(2, 2, 3, padding=1)
    model = torch.nn.Sequential(conv, torch.nn.ReLU(), conv)  # the same weights twice
    shape = (1, 2, 8, 8)
    mem = summarize(to_graph(model, shape), [shape], model=model).memory
    assert mem is not None
    assert mem.params == conv.weight.numel() + conv.bias.numel() == 38
    assert mem == MemoryEstimate.of(model, summarize(to_graph(model, shape), [shape]).report.rows,
                                    [shape])


def test_json_record_is_the_schema_and_the_cli_one(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from atrous.cli import main

    model = se_net()
    s = summarize(to_graph(model, SHAPE), [SHAPE], model=model)
    doc: dict[str, Any] = json.loads(s.to_json())
    schemas.validate("model", doc)
    assert doc["model"]["outputs"] == [{"name": "3", "label": None,
                                        "made_global_by": "2.mean (mean)"}]
    assert doc["model"]["memory"]["total_bytes"] == s.memory.total_bytes  # type: ignore[union-attr]
    here = Path(__file__).parent / "models_for_tests.py"
    assert main(["model", f"{here}:se_net", "--input", "1x3x32x32", "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out) == doc


def test_without_a_model_there_is_no_memory_and_no_erf() -> None:
    graph = to_graph(se_net(), SHAPE)
    s = summarize(graph)  # the graph's own input shape
    assert s.inputs == [SHAPE] and s.memory is None and s.model is None
    assert all(r.trainable is None and r.kernel == () for r in s.table())
    assert "memory" not in s.to_dict()["model"]
    with pytest.raises(AtrousError, match="needs the nn"):
        summarize(graph, [SHAPE], erf_samples=2)


def test_cli_columns_are_the_renderers() -> None:
    from atrous.cli.model import COLUMNS
    from atrous.render.text import MODEL_COLUMNS

    assert COLUMNS == MODEL_COLUMNS


def test_an_onnx_models_record_follows_the_schema() -> None:
    """``atrous model file.onnx --json``: method "onnx" is a value the schema allows."""
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import helper, numpy_helper

    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1, 16, 16])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    conv = helper.make_node("Conv", ["x", "w"], ["y"], dilations=[3, 3], pads=[3] * 4)
    weight = numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")
    model = helper.make_model(helper.make_graph([conv], "dilated", [x], [y], [weight]),
                              opset_imports=[helper.make_opsetid("", 17)])
    from atrous.onnx import to_graph as onnx_graph

    s = summarize(onnx_graph(model))
    doc = s.to_dict()
    schemas.validate("model", doc)
    assert doc["model"]["method"] == "onnx" and doc["model"]["input"] == [1, 1, 16, 16]
    assert doc["rf"]["size"] == [7, 7] and s.memory is None
