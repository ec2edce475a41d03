"""Effective receptive field (Luo et al., NIPS 2016) of a PyTorch model, by autograd.

The theoretical receptive field (:func:`atrous.receptive_field`) says which input pixels *can*
reach an output unit; the effective receptive field says how much each one does: the gradient of
the centre output unit with respect to the input, averaged (in absolute value) over random inputs
and, optionally, random re-initialisations of the weights. It concentrates in a Gaussian-like blob
much smaller than the theoretical box; :attr:`ERFResult.fraction95` measures how much smaller.

For ``n`` stacked ``k``-tap uniform kernels the ERF is the ``n``-fold convolution of a uniform
distribution, whose variance per axis is ``n*(k**2-1)/12`` (the validation case of the tests):

    >>> import torch, torch.nn as nn
    >>> net = nn.Sequential(*[nn.Conv1d(1, 1, 3, padding=1, bias=False) for _ in range(4)])
    >>> for conv in net:
    ...     _ = nn.init.constant_(conv.weight, 1 / 3)
    >>> res = erf(net, (1, 1, 41), samples=2, progress=False)
    >>> round(res.variance()[0], 6), 4 * (3**2 - 1) / 12
    (2.666667, 2.6666666666666665)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import AtrousError, TooLargeError

if TYPE_CHECKING:  # type-only: importing atrous.erf stays light
    from .graph import Graph
    from .rf import ReceptiveField

__all__ = ["ERFResult", "centre_unit", "erf"]

MAX_ELEMENTS = 1 << 26
"""The largest input :func:`erf` allocates by default (64M elements: 256 MB in float32)."""


def centre_unit(size: Sequence[int]) -> tuple[int, ...]:
    """The centre unit of a map: ``(n - 1) // 2`` per axis, the unit the report's coverage uses.

    >>> centre_unit((4096,)), centre_unit((9, 8))
    ((2047,), (4, 3))
    """
    return tuple((int(n) - 1) // 2 for n in size)


@dataclass
class ERFResult:
    """An effective receptive field.

    Attributes:
        map: mean absolute input gradient of the output unit, input-sized (spatial axes only).
        rf: the theoretical :class:`~atrous.rf.ReceptiveField` of the same output.
        fraction95: the share of the theoretical RF box (clipped to the input) that the smallest
            set of pixels holding 95% of the gradient mass covers.
        unit: the output unit analysed: the centre one, ``(n - 1) // 2`` per axis, as in the
            report's coverage (:func:`centre_unit`).
        center: input coordinates of that unit's theoretical RF centre.
        samples: random inputs averaged; ``reinit``: whether weights were re-drawn per sample.
    """

    map: np.ndarray
    rf: ReceptiveField
    fraction95: float
    unit: tuple[int, ...]
    center: tuple[float, ...]
    samples: int
    reinit: bool
    output: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def variance(self) -> tuple[float, ...]:
        """Per-axis variance of the normalised map (a Gaussian-like ERF's spread)."""
        total = float(self.map.sum())
        if total <= 0:  # no gradient reached the input (e.g. dead ReLUs)
            return tuple(float("nan") for _ in range(self.map.ndim))
        m = self.map / total
        out = []
        for axis in range(m.ndim):
            marg = m.sum(axis=tuple(a for a in range(m.ndim) if a != axis))
            idx = np.arange(marg.size, dtype=np.float64)
            mean = float((marg * idx).sum())
            out.append(float((marg * (idx - mean) ** 2).sum()))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (the map as nested lists)."""
        return {
            "unit": list(self.unit),
            "center": list(self.center),
            "samples": self.samples,
            "reinit": self.reinit,
            "output": self.output,
            "fraction95": self.fraction95,
            "variance": [None if v != v else v for v in self.variance()],  # NaN -> null
            "rf": self.rf.to_dict(),
            "map": self.map.tolist(),
        }

    def figure(self) -> Any:
        """A matplotlib figure: the ERF with the theoretical RF box drawn over it."""
        from .render.figures import erf_figure

        if self.map.ndim > 2:
            raise AtrousError(f"only 1-D and 2-D ERF maps can be drawn, got {self.map.ndim}-D")
        return erf_figure(self)


def _fraction95(values: np.ndarray, box_area: int) -> float:
    flat = np.sort(values.ravel())[::-1]
    total = float(flat.sum())
    if total <= 0 or box_area <= 0:
        return 0.0
    needed = int(np.searchsorted(np.cumsum(flat), 0.95 * total) + 1)
    return min(needed / box_area, 1.0)


def _reinit(model: Any, gen: Any) -> None:
    """Re-draw the weights of ``model`` (a copy) without touching the global RNG's state."""
    import torch

    with torch.random.fork_rng(devices=[]):  # reset_parameters draws from the global RNG
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
        for m in model.modules():
            reset = getattr(m, "reset_parameters", None)
            if callable(reset):
                reset()


def erf(
    model: Any,
    input_size: Sequence[int],
    samples: int = 16,
    *,
    reinit: bool = False,
    seed: int = 0,
    output: str | None = None,
    progress: bool = True,
    max_elements: int = MAX_ELEMENTS,
) -> ERFResult:
    """Measure the effective receptive field of the centre output unit.

    Args:
        model: a ``torch.nn.Module`` taking one tensor (it is not modified; with ``reinit`` a
            copy is re-initialised).
        input_size: the full input shape ``(N, C, *spatial)``.
        samples: number of random inputs (standard normal) to average over.
        reinit: re-initialise the weights (``reset_parameters``) for every sample, as Luo et al.
            do to study the architecture rather than one set of weights.
        seed: seed for the inputs and re-initialisations (a local generator: the global
            RNG's state is left as it was).
        output: which output of a model returning a dict or tuple (the label; default the only
            or first one: one ERF per call).
        progress: show a progress bar on a terminal.
        max_elements: the largest input (number of elements) to allocate; larger ones are
            refused up front with :class:`~atrous.errors.TooLargeError`.

    Returns:
        An :class:`ERFResult`.

    Raises:
        AtrousError: for a bad ``samples``, ``seed`` or ``input_size``, or an unknown ``output``.
        TooLargeError: when the input has more than ``max_elements`` elements.

    The model's state is left as it was: its train/eval flags, no ``.grad`` on its parameters
    (the gradient is taken with respect to the input only) and, with ``reinit``, its weights
    (a copy is re-initialised) and the global random state.

    >>> import torch.nn as nn
    >>> res = erf(nn.Conv2d(1, 1, 3, padding=2, dilation=2), (1, 1, 9, 9), samples=2)
    >>> res.rf.size, res.unit, int((res.map > 0).sum())   # 9 taps of a 5x5 box
    ((5, 5), (4, 4), 9)
    """
    import torch

    from .fx import to_graph
    from .rf import receptive_field

    shape = _checked_shape(samples, seed, input_size, max_elements)
    graph = to_graph(model, shape)
    node, output = _select_output(graph, output)
    rf = receptive_field(graph, input_size=shape, output=node)
    gen = torch.Generator().manual_seed(int(seed))
    net = copy.deepcopy(model) if reinit else model
    emap, unit = _mean_gradient(net, shape, gen, output, graph.ndim, samples, reinit, progress)
    area, center = _box_area(rf, unit, emap.shape)
    return ERFResult(emap, rf, _fraction95(emap, area), unit, center, samples, reinit, output)


def _checked_shape(
    samples: Any, seed: Any, input_size: Sequence[int], max_elements: Any
) -> tuple[int, ...]:
    """The input shape, once :func:`erf`'s numbers are checked and the input is not too large."""
    from .fx.plumbing import _check_input_size

    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise AtrousError(f"samples must be an integer >= 1, got {samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise AtrousError(f"seed must be an integer, got {seed!r}")
    shape = _check_input_size(input_size)
    if isinstance(max_elements, bool) or not isinstance(max_elements, int) or max_elements < 1:
        raise AtrousError(f"max_elements must be an integer >= 1, got {max_elements!r}")
    elements = math.prod(shape)
    if elements > max_elements:
        raise TooLargeError(
            f"an input of shape {shape} has {elements:,} elements; the ERF needs real tensors of "
            f"that size (input, gradient, activations) and max_elements={max_elements:,}: raise "
            "it, or use a smaller input")
    return shape


def _mean_gradient(
    net: Any,
    shape: tuple[int, ...],
    gen: Any,
    output: str | None,
    ndim: int,
    samples: int,
    reinit: bool,
    progress: bool,
) -> tuple[Any, tuple[int, ...]]:
    """The input gradient of the centre unit averaged over ``samples`` random inputs, and that
    unit; the model's train/eval flags are left as they were."""
    import torch

    flags = [(m, m.training) for m in net.modules()]
    net.eval()
    acc: Any = None
    unit: tuple[int, ...] = ()
    steps: Any = range(samples)
    if progress:
        from .render.progress import track

        steps = track(steps, total=samples, description="effective RF")
    try:
        with torch.enable_grad():  # also when the caller runs under torch.no_grad()
            for _ in steps:
                if reinit:
                    _reinit(net, gen)
                g, unit = _gradient(net, shape, gen, output, ndim)
                acc = g if acc is None else acc + g
    finally:
        for m, flag in flags:
            m.training = flag
    return acc / samples, unit


def _select_output(graph: Graph, output: str | None) -> tuple[str, str | None]:
    """The output node and label ``erf`` measures (``output``: a label, or None for the first)."""
    labels = graph.output_labels
    if output is not None:
        node = next((n for n, lab in labels.items() if lab == output), None)
        if node is None and len(graph.outputs) == 1:
            raise AtrousError(
                f"output={output!r} names one output of a model with several (dict or tuple) "
                "outputs; this model has a single output: leave output=None")
        if node is None:
            raise AtrousError(f"output must be one of {sorted(labels.values())}, got {output!r}")
    else:
        node = graph.outputs[0]
        output = labels.get(node)
    return node, output


def _gradient(net: Any, shape: tuple[int, ...], gen: Any, output: str | None,
              ndim: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """|d(centre unit)/d(input)| summed over batch and channels, for one random input."""
    import torch

    from .fx.plumbing import _flatten_outputs

    dtype = next((p.dtype for p in net.parameters()), torch.float32)
    x = torch.randn(shape, generator=gen, dtype=dtype).requires_grad_(True)
    y = net(x)
    if not isinstance(y, torch.Tensor):
        flat = dict(_flatten_outputs(y))
        y = flat[output] if output in flat else next(iter(flat.values()))
    spatial = tuple(y.shape[2:]) if y.dim() >= 2 + ndim else (1,) * ndim
    unit = centre_unit(spatial)
    index = (slice(None), slice(None), *unit)
    target = y[index] if y.dim() >= 2 + ndim else y
    # the gradient w.r.t. the input only: no .grad is left on the model's parameters
    grad = None
    if target.requires_grad:
        (grad,) = torch.autograd.grad(target.sum(), x, allow_unused=True)
    if grad is None:  # the unit does not depend on the input's values
        grad = torch.zeros_like(x)
    return grad.detach().abs().sum(dim=(0, 1)).double().numpy(), unit


def _box_area(rf: ReceptiveField, unit: tuple[int, ...], shape: tuple[int, ...]
              ) -> tuple[int, tuple[float, ...]]:
    """Pixels of the unit's theoretical box inside the input, and the box's centre."""
    if rf.is_global:
        return int(np.prod(shape)), tuple((s - 1) / 2 for s in shape)
    boxes = [b if b is not None else (0, -1) for b in rf.box(unit)]  # None: reads nothing
    area = 1
    for (lo, hi), n in zip(boxes, shape):
        area *= max(0, min(hi, n - 1) - max(lo, 0) + 1)
    return area, tuple((lo + hi) / 2 for lo, hi in boxes)
