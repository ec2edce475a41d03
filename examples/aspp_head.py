"""An ASPP head (DeepLabv3): parallel atrous branches plus image pooling.

The image-pooling branch (global average pooling, 1x1 conv, upsampled back) makes every output
unit see the whole input: atrous reports the receptive field as *global* and names the op that made
it so. Without image pooling the receptive field is finite: the largest branch (3x3, rate r) sees
``2r + 1`` pixels, and the coverage map shows that the branches together grid.

    python examples/aspp_head.py
    atrous model examples/aspp_head.py:build --input 1x64x65x65
"""

from __future__ import annotations

import torch.nn as nn

import atrous
from atrous.fx import to_graph
from atrous.nn import ASPP
from atrous.summary import summarize

INPUT = (1, 64, 65, 65)
RATES = (6, 12, 18)


def build(image_pooling: bool = True) -> nn.Module:
    return ASPP(64, 32, rates=RATES, image_pooling=image_pooling)


def main() -> None:
    summary = summarize(to_graph(build(), INPUT), [INPUT])
    print(f"with image pooling: global={summary.report.rf.is_global}, made global by "
          f"{summary.outputs[0].made_global_by}")
    rf = atrous.receptive_field(build(image_pooling=False), input_size=INPUT)
    print(f"without image pooling: RF {rf.size[0]}x{rf.size[1]} (2*{max(RATES)}+1 = "
          f"{2 * max(RATES) + 1})")
    cov = atrous.coverage(build(image_pooling=False), input_size=INPUT)
    print(f"coverage of the {cov.counts.shape[0]}x{cov.counts.shape[1]} box: {cov.holes} holes, "
          f"{cov.fraction:.0%} of it read: the sparse rates grid")


if __name__ == "__main__":
    main()
