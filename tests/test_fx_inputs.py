"""Models taking several input tensors: image inputs share one pixel grid, side inputs move none."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from atrous import AtrousError, receptive_field
from atrous.fx import to_graph


class TwoInputs(nn.Module):
    """An image and a mask on the same grid, plus a class vector that scales the channels."""

    def __init__(self, side: bool = False) -> None:
        super().__init__()
        self.img = nn.Conv2d(3, 4, 3, padding=1)
        self.mask = nn.Conv2d(1, 4, 5, padding=2)
        self.fc = nn.Linear(10, 4)
        self.side = side

    def forward(self, x: torch.Tensor, m: torch.Tensor, v: torch.Tensor | None = None
                ) -> torch.Tensor:
        y = self.img(x) + self.mask(m)
        if v is not None:
            y = y * self.fc(v)[:, :, None, None]
        return y


def support(model: nn.Module, shapes: list[tuple[int, ...]], unit: tuple[int, int]
            ) -> tuple[tuple[int, int], ...]:
    """The hull of the pixels of every image input with a non-zero gradient for one unit."""
    xs = [torch.ones(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    model.double()(*xs)[(0, slice(None), *unit)].sum().backward()
    nz = torch.cat([(x.grad[0].abs().sum(0) > 0).nonzero() for x in xs if x.dim() == 4])
    return tuple((int(nz[:, a].min()), int(nz[:, a].max())) for a in range(2))


@pytest.mark.parametrize("side", [False, True])
def test_several_inputs_share_the_first_inputs_grid(side: bool) -> None:
    shapes = [(1, 3, 16, 16), (1, 1, 16, 16)] + ([(1, 10)] if side else [])
    model = TwoInputs(side)
    g = to_graph(model, shapes)
    assert not g.partial, g.diagnostics
    assert g.input_shape == shapes[0] and "share the first's pixel grid" in g.notes[0]
    rf = receptive_field(g, input_size=shapes[0])
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand_like(p) + 0.5)
    assert rf.size == (5, 5) and rf.box((8, 8)) == support(model, shapes, (8, 8))


def test_several_inputs_through_the_hook_fallback() -> None:
    class Branchy(TwoInputs):
        def forward(self, x: torch.Tensor, m: torch.Tensor, v: torch.Tensor | None = None
                    ) -> torch.Tensor:
            if x.sum() > 0:  # data-dependent: torch.fx cannot trace it
                return self.img(x)
            return self.img(x) + self.mask(m)

    g = to_graph(Branchy(), [(1, 3, 16, 16), (1, 1, 16, 16)])
    assert g.method == "hooks" and g.partial
    assert receptive_field(g, input_size=(1, 3, 16, 16)).size == (5, 5)


@pytest.mark.parametrize("shapes, match", [
    ([(1, 3, 16, 16), (1, 1, 8, 8)], "spatial size"),
    ([(1, 3, 16, 16), (1, 1, 1, 16, 16)], "more axes"),
    ([(1, 3, 16, 16), (1, 0, 16, 16)], "integer >= 1"),
])
def test_bad_input_lists_are_refused(shapes: list[tuple[int, ...]], match: str) -> None:
    with pytest.raises(AtrousError, match=match):
        to_graph(TwoInputs(), shapes)


def test_more_input_shapes_than_forward_takes_are_refused() -> None:
    """Two shapes for a one-input ``nn.Sequential`` were analysed (both counted in the header and
    the memory estimate) although a real call with two tensors fails; forward(*xs) takes any."""
    import torch.nn as nn

    from atrous.errors import AtrousError
    from atrous.fx import to_graph

    with pytest.raises(AtrousError, match=r"Sequential.forward\(input\) takes 1 input tensor; "
                                          r"got 2 input shapes"):
        to_graph(nn.Sequential(nn.Conv2d(3, 4, 3)), [(1, 3, 32, 32), (1, 3, 32, 32)])

    class Many(nn.Module):
        def forward(self, *xs: torch.Tensor) -> torch.Tensor:
            return torch.stack(xs).sum(0)

    assert to_graph(Many(), [(1, 3, 8, 8), (1, 3, 8, 8)]).output
