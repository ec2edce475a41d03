"""The phase-decomposed dilated convolution and ``impl="auto"``'s one-time probe (private).

``phase``: per axis with ``g = gcd(s, d)``, ``d' = d/g``, ``s' = s/g``, output ``o = a + t*d'``
(``a < d'``) reads ``X[a*s + (t*s' + j)*d]``, so each phase ``a`` is one dense convolution
(stride ``s'``) on the strided view ``X[a*s::d]``, written into ``y[a::d']``. Unlike
``space_to_batch`` it never copies the input into a batch of phases: ``d'**ndim`` small
convolutions instead of one large one.

``auto``: the first call for a (device, dtype, shapes, stride, padding, dilation, groups,
padding mode) times ``native``, ``space_to_batch`` and ``phase`` on that very input (forward,
no grad) and remembers its choice, like ``torch.backends.cudnn.benchmark``. The probe runs
:data:`AUTO_ROUNDS` rounds, each timing every implementation once, in an order that rotates
from round to round, so that a burst of load from other programs falls on all of them alike
(:func:`interleaved`). :func:`decide` then keeps ``native`` unless another implementation was
at least :data:`AUTO_MARGIN` faster than ``native`` *in every round*, paired round by round,
and in the median too: one lucky run never moves a call off the native kernel.

The verdicts live in one table keyed by all of the above (:func:`choose`); each checked call
signature of :func:`atrous.nn._dilated.dilated_conv` (shapes and options, :data:`_CHECKED`) also
keeps its own by the input's dtype, device and layout only, filled by the signature's first
repeat (which finds the first call's verdict by the full key), so that the calls after it cost
three attribute reads and a lookup (modules call the functional with their ``impl``; they keep
nothing of their own).
"""

from __future__ import annotations

import functools
import itertools
import math
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch._jit_internal import is_scripting

from .._types import Ints, Pairs

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

AUTO_IMPLS = ("native", "space_to_batch", "phase")
"""What ``impl="auto"`` chooses from (``zero_kernel`` is never faster than ``native``)."""
AUTO_MARGIN = 0.10
"""How much faster than ``native`` another implementation must measure, in every round of the
probe, to be chosen."""
AUTO_ROUNDS = 5
"""Rounds of the probe; each times every implementation once (after one warm-up each)."""

_CHOICE: dict[tuple[Any, ...], str] = {}
"""The probe's verdicts, by :func:`_auto_key` (at most :data:`_CHECKED_MAX`)."""
_LAST: list[Any] = ["native", False]
"""What the latest ``impl="auto"`` call ran, and whether it may be remembered for that input
(False when ``native`` ran only because nothing could be probed: tracing, meta tensors...)."""
_CHECKED: dict[tuple[object, ...], Any] = {}
"""The dilated convolutions' checked call signatures (``atrous.nn._dilated._Checked``, by shapes
and options), each with its ``impl="auto"`` verdicts; emptied by :func:`clear_auto_choices`."""
_CHECKED_MAX = 1024
"""At most this many signatures are kept (the table starts afresh when full), and at most this
many probe verdicts in :data:`_CHOICE`."""
_VERDICTS_MAX = 16
"""At most this many ``auto`` verdicts per signature (by dtype, device and layout: the layouts
of one shape are as many as its strides can be)."""


def phase_conv(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Ints,
    dilation: Ints,
    groups: int,
    conv: Callable[..., Tensor],
) -> Tensor:
    """Dilated convolution of an already padded ``x`` by one dense convolution per phase.

    >>> import torch, torch.nn.functional as F
    >>> x, w = torch.randn(1, 2, 11, 9), torch.randn(3, 2, 3, 3)
    >>> y = phase_conv(x, w, None, (1, 2), (2, 3), 1, F.conv2d)
    >>> torch.allclose(y, F.conv2d(x, w, None, (1, 2), 0, (2, 3)), atol=1e-5)
    True
    """
    ndim = len(stride)
    kernel = weight.shape[2:]
    outs, dps, sps = [], [], []
    for axis in range(ndim):
        k, s, d = int(kernel[axis]), stride[axis], dilation[axis]
        g = math.gcd(s, d)
        dps.append(d // g)
        sps.append(s // g)
        outs.append((int(x.shape[2 + axis]) - d * (k - 1) - 1) // s + 1)
    shape = (x.shape[0], weight.shape[0], *outs)
    fmt = _layout(x)
    if fmt is torch.contiguous_format:
        fmt = _layout(weight)
    y: Tensor | None = None
    for phase in itertools.product(*(range(min(dp, o)) for dp, o in zip(dps, outs))):
        view: list[slice] = [slice(None), slice(None)]
        into: list[slice] = [slice(None), slice(None)]
        for axis, a in enumerate(phase):
            view.append(slice(a * stride[axis], None, dilation[axis]))
            into.append(slice(a, None, dps[axis]))
        part = conv(x[tuple(view)], weight, bias, tuple(sps), 0, 1, groups)
        if y is None:  # the convolution's dtype (autocast's), the input's layout: as native's
            y = _empty(part, shape, fmt)
        for axis, a in enumerate(phase):
            part = part.narrow(2 + axis, 0, -(-(outs[axis] - a) // dps[axis]))
        y[tuple(into)] = part
    return y if y is not None else x.new_empty(shape)


def _empty(like: Tensor, shape: tuple[int, ...], fmt: torch.memory_format) -> Tensor:
    """An uninitialised ``shape`` of ``like``'s kind (``new_empty``: its dtype and device, and
    batched under torch.func.vmap, where a plain tensor cannot take a batched part), laid out
    channels_last or contiguous by ``fmt``."""
    if fmt is torch.channels_last:
        n, c, h, w = shape
        return like.new_empty((n, h, w, c)).permute(0, 3, 1, 2)
    return like.new_empty(shape)


def _layout(y: Tensor) -> torch.memory_format:
    """channels_last for a 2-D batch laid out so (where ``F.conv2d`` gives channels_last, as it
    does not for a channels_last_3d input on the CPU), else contiguous."""
    if y.dim() == 4 and not y.is_contiguous() and y.is_contiguous(
            memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


class ConvArgs(NamedTuple):
    """One checked convolution: a batched input, the padding as per-axis ``(left, right)``
    pairs, stride and dilation per axis, the padding mode."""

    x: Tensor
    weight: Tensor
    bias: Tensor | None
    stride: Ints
    pads: Pairs
    dilation: Ints
    groups: int
    mode: str


def _auto_key(a: ConvArgs) -> tuple[Any, ...]:
    x = a.x
    return (  # computed on a checked signature's first auto call per input kind (_dilated)
        x.device, x.dtype, x.shape, x.is_contiguous() or x.stride(), a.weight.shape,
        a.bias is None, a.stride, a.pads, a.dilation, a.groups, a.mode,
        x.is_cuda and torch.backends.cudnn.deterministic,
    )


def _probing_makes_sense(x: Tensor) -> bool:
    """No probe on meta or fake tensors, while tracing or compiling: there ``native`` runs."""
    if type(x) is not Tensor and not isinstance(x, torch.nn.Parameter):
        return False  # FakeTensor, functional tensors and other subclasses
    if x.is_meta or is_tracing() or is_scripting():
        return False
    return "torch._dynamo" not in sys.modules or not _compiling()


is_tracing = torch._C._is_tracing
"""torch.jit.is_tracing's test, without its Python layers."""


def _compiling() -> bool:
    """Whether torch.compile is tracing: it runs through torch._dynamo, and when that was never
    imported nothing compiles (looking at torch.compiler would import it: seconds)."""
    dynamo = sys.modules.get("torch._dynamo")
    compiling = getattr(dynamo, "is_compiling", None)
    return compiling is not None and bool(compiling())


def _clock(device: torch.device) -> Callable[[], float]:
    """The probe's clock: a synchronised wall clock on a GPU; on the CPU the process's CPU time
    (all its threads), which other processes sharing the cores do not inflate the way they
    inflate wall time."""
    if device.type != "cuda":
        return time.process_time

    def synced() -> float:
        torch.cuda.synchronize(device)
        return time.perf_counter()

    return synced


def best_of(fn: Callable[[], Any], device: torch.device, repeats: int) -> float:
    """The fastest of ``repeats`` timed runs of ``fn`` after one warm-up (:func:`_clock`)."""
    return min(interleaved({"fn": fn}, device, repeats)["fn"])


def interleaved(
    fns: Mapping[str, Callable[[], Any]], device: torch.device, rounds: int
) -> dict[str, list[float]]:
    """Time every function once per round, ``rounds`` rounds, after one warm-up of each.

    The order rotates from round to round (round ``r`` starts with the ``r``-th function), so
    no function always runs first or last, and load that comes and goes falls on all of them
    alike. Returns each function's times, in round order (on the :func:`_clock`).

    >>> import torch
    >>> times = interleaved({"a": lambda: None, "b": lambda: None}, torch.device("cpu"), 3)
    >>> sorted(times), [len(t) for t in times.values()]
    (['a', 'b'], [3, 3])
    """
    clock = _clock(device)
    names = list(fns)
    for name in names:
        fns[name]()
    clock()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            start = clock()
            fns[name]()
            times[name].append(clock() - start)
    return times


def decide(times: dict[str, list[float]], margin: float = AUTO_MARGIN) -> str:
    """The implementation the probe's times choose: ``native`` unless another one was at least
    ``margin`` faster than ``native`` in every round (paired round by round) and in the median;
    of those, the one with the smallest median (the first listed on a tie).

    >>> decide({"native": [1.0, 1.0, 1.0], "phase": [0.5, 0.6, 0.5]})
    'phase'
    >>> decide({"native": [1.0, 1.0, 1.0], "phase": [0.5, 0.95, 0.5]})  # one round within 10%
    'native'
    """
    native = times["native"]
    if not native:
        return "native"  # nothing measured: nothing to replace it by
    keep = 1.0 - margin

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    best, best_median = "native", median(native)
    for impl, values in times.items():
        if impl == "native" or len(values) != len(native) or not values:
            continue
        if not all(t <= keep * n for t, n in zip(values, native)):
            continue
        m = median(values)
        if m <= keep * median(native) and m < best_median:
            best, best_median = impl, m
    return best


def probe(run: Callable[[str], Tensor], device: torch.device) -> dict[str, list[float]]:
    """The probe's times of every implementation in :data:`AUTO_IMPLS` (see :func:`decide`)."""
    with torch.no_grad():
        return interleaved({impl: functools.partial(run, impl) for impl in AUTO_IMPLS},
                           device, AUTO_ROUNDS)


def choose(a: ConvArgs, conv: Callable[[str, ConvArgs], Tensor]) -> str:
    """The implementation ``impl="auto"`` uses for this call (probed once, then cached).

    ``conv(impl, a)`` computes the convolution with ``impl``; :func:`probe` calls it under
    no_grad and :func:`decide` chooses from its times. A verdict of ``native`` is returned
    before the probe context is looked at (it is what that context would run anyway).
    """
    x = a.x
    if max(a.dilation) == 1:
        _LAST[:] = "native", True  # no dilation: nothing to decompose
        return "native"
    if (type(x) is not Tensor and not isinstance(x, torch.nn.Parameter)) or (
        "torch._dynamo" in sys.modules and _compiling()
    ):
        _LAST[:] = "native", False  # fake tensors, tracing by torch.compile
        return "native"
    key = _auto_key(a)
    found = _CHOICE.get(key)
    if found != "native":
        if not _probing_makes_sense(x):
            _LAST[:] = "native", False
            return "native"
        if found is None:
            found = decide(probe(lambda impl: conv(impl, a), x.device))
            if len(_CHOICE) >= _CHECKED_MAX:
                _CHOICE.clear()  # bounded: input sizes may never repeat
            _CHOICE[key] = found
    _LAST[:] = found, True
    return found


def _device_key(x: Tensor) -> tuple[object, ...]:
    """The device part of an ``auto`` verdict's key off the CPU: the device, and
    ``cudnn.deterministic`` on a GPU (the key is ``(dtype, x.is_cpu or this, layout)``)."""
    return x.device, x.is_cuda and torch.backends.cudnn.deterministic


def last_choice() -> str:
    """The implementation the latest ``impl="auto"`` call ran."""
    return str(_LAST[0])


def auto_choices() -> dict[tuple[Any, ...], str]:
    """A copy of the probe's verdicts so far (key: device, dtype, shapes, options)."""
    return dict(_CHOICE)


def clear_auto_choices() -> None:
    """Forget the probe's verdicts (the next ``impl="auto"`` call probes again)."""
    _CHOICE.clear()
    _CHECKED.clear()


def _pad(x: Tensor, pads: Pairs, mode: str = "zeros") -> Tensor:
    """``F.pad`` with per-axis ``(left, right)`` pairs in natural axis order."""
    if all(lo == 0 and hi == 0 for lo, hi in pads):
        return x
    flat: list[int] = []
    for lo, hi in reversed(pads):
        flat += [lo, hi]
    if mode == "zeros":
        return F.pad(x, flat)
    return F.pad(x, flat, mode=mode)


def _space_to_batch_conv(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Ints,
    pads: Pairs,
    dilation: Ints,
    groups: int,
    mode: str,
) -> Tensor:
    """Exact dilated convolution via phases (see :func:`dilated_conv2d`, ``impl="space_to_batch"``).

    Per axis with ``g = gcd(s, d)``, ``s' = s/g``, ``d' = d/g``: output ``o = a + t*d'``
    (``a < d'``) reads ``X[a*s + (t*s' + j)*d]``, so phase ``a`` is the strided view
    ``Q_a[m] = X[a*s + m*d]`` and a dense convolution with stride ``s'`` on it gives outputs
    ``t``. With stride 1 this is TensorFlow's space_to_batch with block ``d``.
    """
    ndim = len(stride)
    n, c = x.shape[0], x.shape[1]
    kernel = weight.shape[2:]
    channels_last = ndim > 1 and c > 1 and x.stride(1) == 1
    x = _pad(x, pads, mode)
    padded = x.shape[2:]
    phases, steps, outs, counts, lengths, extra = [], [], [], [], [], []
    for axis in range(ndim):
        k, s, d, size = kernel[axis], stride[axis], dilation[axis], padded[axis]
        g = math.gcd(s, d)
        dp, sp = d // g, s // g
        out = (size - d * (k - 1) - 1) // s + 1
        t = -(-out // dp)
        m = (t - 1) * sp + k
        need = (dp - 1) * s + (m - 1) * d + 1
        phases.append(dp)
        steps.append(sp)
        outs.append(out)
        counts.append(t)
        lengths.append(m)
        extra.append((0, max(0, need - size)))
    x = _pad(x, tuple(extra))
    # Q[..., a, m] = X[a*s + m*d] per axis: unfold windows starting at a*s, take every d-th.
    for axis in range(ndim):
        dim = 2 + axis  # the axis becomes its phases; the window goes to the end
        span = (lengths[axis] - 1) * dilation[axis] + 1
        x = x.unfold(dim, span, stride[axis]).narrow(dim, 0, phases[axis])
        x = x[..., :: dilation[axis]]
    sizes = tuple(t * p for t, p in zip(counts, phases))
    if channels_last:
        # the same steps with the channels last in memory, so the dense convolution and the
        # result keep the caller's layout
        perm = [*range(2, 2 + ndim), 0, *range(2 + ndim, 2 + 2 * ndim), 1]
        batch = x.permute(perm).reshape(-1, *lengths, c).movedim(-1, 1)
        y = _CONV[ndim](batch, weight, bias, tuple(steps), 0, 1, groups)
        c_out = y.shape[1]
        yl = y.movedim(1, -1).reshape(*phases, n, *counts, c_out)
        perm = [ndim]
        for axis in range(ndim):
            perm += [ndim + 1 + axis, axis]
        y = yl.permute([*perm, 2 * ndim + 1]).reshape(n, *sizes, c_out).movedim(-1, 1)
    else:
        # x: (N, C, a_1, ..., a_n, m_1, ..., m_n) -> (a_1, ..., a_n, N, C, m_1, ..., m_n)
        perm = [*range(2, 2 + ndim), 0, 1, *range(2 + ndim, 2 + 2 * ndim)]
        batch = x.permute(perm).reshape(-1, c, *lengths)
        y = _CONV[ndim](batch, weight, bias, tuple(steps), 0, 1, groups)
        c_out = y.shape[1]
        y = y.reshape(*phases, n, c_out, *counts)
        # -> (N, C_out, t_1, a_1, ..., t_n, a_n): output index t*d' + a
        perm = [ndim, ndim + 1]
        for axis in range(ndim):
            perm += [ndim + 2 + axis, axis]
        y = y.permute(perm).reshape(n, c_out, *sizes)
    for axis in range(ndim):
        y = y.narrow(2 + axis, 0, outs[axis])
    if channels_last:
        # the narrowing leaves gaps: hand back a dense tensor in the caller's layout
        fmt = torch.channels_last if ndim == 2 else torch.channels_last_3d
        y = y.contiguous(memory_format=fmt)
    return y
