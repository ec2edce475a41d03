"""A WaveNet-style 1-D stack: causal dilated convolutions with rates 1, 2, 4, ..., 512.

With kernel ``k`` and dilations ``1..2**(n-1)`` the receptive field is ``(k-1)*(2**n - 1) + 1``:
1024 samples for ``k=2`` and 2047 for ``k=3`` with ten layers. atrous reads it off the traced
model (including the causal left padding done with ``F.pad``, the gated activations and the
residual and skip sums) and the effective receptive field shows how little of that window
actually matters at initialisation.

    python examples/wavenet.py
    atrous model examples/wavenet.py:build --input 1x1x4096
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

import atrous


class WaveNet(nn.Module):
    """Gated causal dilated convs with residual and skip connections (van den Oord et al.)."""

    def __init__(self, kernel: int = 2, layers: int = 10, channels: int = 16) -> None:
        super().__init__()
        self.kernel = kernel
        self.dilations = [2**i for i in range(layers)]
        self.inp = nn.Conv1d(1, channels, 1)
        self.filters = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=d)
                                     for d in self.dilations)
        self.gates = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=d)
                                   for d in self.dilations)
        self.res = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in self.dilations)
        self.out = nn.Conv1d(channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inp(x)
        skip = torch.zeros_like(x)
        for d, f, g, r in zip(self.dilations, self.filters, self.gates, self.res):
            h = F.pad(x, ((self.kernel - 1) * d, 0))  # causal: pad on the left only
            z = r(torch.tanh(f(h)) * torch.sigmoid(g(h)))
            x, skip = x + z, skip + z
        return self.out(F.relu(skip))


def build(kernel: int = 2) -> nn.Module:
    return WaveNet(kernel)


def main() -> None:
    length = 4096
    for kernel in (2, 3):
        rf = atrous.receptive_field(build(kernel), input_size=(1, 1, length))
        expected = (kernel - 1) * (2**10 - 1) + 1
        lo, hi = rf.box(3000)[0]
        print(f"kernel {kernel}: RF {rf.size[0]} (closed form {expected}); output sample 3000 "
              f"reads inputs {lo}..{hi} (causal)")
    res = atrous.erf(build(2), (1, 1, 2048), samples=8, reinit=True)
    print(f"effective RF at initialisation: 95% of the gradient mass in "
          f"{res.fraction95:.1%} of the 1024-sample window")


if __name__ == "__main__":
    main()
