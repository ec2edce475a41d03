"""Small models for the CLI's model-table tests (memory, depth, hostile names, two inputs)."""

from __future__ import annotations

import torch
import torch.nn as nn


def bn_net(freeze_last: bool = False, width: int = 4) -> nn.Module:
    """conv 3->width 3x3, BN, ReLU, conv width->2 1x1; the last conv frozen on request."""
    m = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                      nn.Conv2d(width, 2, 1))
    if freeze_last:
        for p in m[3].parameters():
            p.requires_grad_(False)
    return m


class Nested(nn.Module):
    """Two stages of two convs each: module paths stage1.0, stage1.1, stage2.0, stage2.1."""

    def __init__(self) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1))
        self.stage2 = nn.Sequential(nn.Conv2d(2, 2, 3, padding=2, dilation=2),
                                    nn.Conv2d(2, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stage2(self.stage1(x))


HOSTILE = ("evil\x1b[31m\x1b]0;title\x07", "line\nbreak", "$\\frac{a}{b}$", "[bold]markup[/]")


def hostile_names() -> nn.Module:
    """Convs whose module names carry terminal escapes, a newline, mathtext and rich markup."""
    m = nn.Sequential()
    for i, name in enumerate(HOSTILE):
        m.add_module(name, nn.Conv2d(1 if i == 0 else 2, 2, 3, padding=1))
    return m


class TwoInputs(nn.Module):
    """Image and mask branches added: two input tensors of the same spatial size."""

    def __init__(self) -> None:
        super().__init__()
        self.rgb = nn.Conv2d(3, 4, 3, padding=1)
        self.mask = nn.Conv2d(1, 4, 5, padding=2)

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return self.rgb(x) + self.mask(m)
