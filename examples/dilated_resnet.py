"""Analyse a dilated ResNet: how replacing strides by dilation changes the receptive field.

DeepLab turns ResNet's last strides into dilations (output stride 32 -> 16 -> 8): the feature map
grows 4x per axis and the effective stride shrinks, while the receptive field stays exactly the
same (427x427) -- which is the point of dilation. This example traces the three variants (no real
forward pass: shapes come from fake tensors) and prints the output's receptive field, then the
receptive field after each dilated 3x3 conv of the last stage.

    python examples/dilated_resnet.py
    atrous model examples/dilated_resnet.py:build --input 1x3x513x513
"""

from __future__ import annotations

import torch.nn as nn

import atrous
from atrous.fx import to_graph
from atrous.nn import resnet50

INPUT = (1, 3, 513, 513)


def build(output_stride: int = 8) -> nn.Module:
    """ResNet-50 backbone (no classifier) with the given output stride (8, 16 or 32)."""
    return resnet50(output_stride, num_classes=None)  # type: ignore[arg-type]


def main() -> None:
    for os_ in (32, 16, 8):
        model = build(os_)
        rf = atrous.receptive_field(model, input_size=INPUT)
        print(f"output stride {os_:2d}: RF {rf.size[0]}x{rf.size[1]}, effective stride "
              f"{rf.stride[0]}, unit 0 centred at input ({', '.join(str(s) for s in rf.start)})")

    graph = to_graph(build(8), INPUT)
    rfs = atrous.rf.receptive_fields(graph, input_size=INPUT)
    print("\nthe dilated 3x3 convs of layer4 (output stride 8):")
    for node in graph.layer_nodes():
        if node.name.startswith("layer4") and node.name.endswith("conv2"):
            layer, rf = node.layer, rfs[node.name]
            print(f"  {node.name:16s} dilation {layer.dilation[0]}  output {node.meta['shape']}"
                  f"  RF {rf.size[0]}  stride {rf.stride[0]}")


if __name__ == "__main__":
    main()
