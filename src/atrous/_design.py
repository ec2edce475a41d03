"""Design: exact search for gridding-free dilation schedules, repair, and the Pareto frontier.

A stack of stride-1 convs with kernel ``K`` and rates ``r_1..r_n`` reaches, along each axis, the
offsets ``{sum_i t_i r_i : 0 <= t_i < K}``; the number of ways to write an offset that way is its
*count* (paths). Two facts make the search exact and fast (proved in ``docs/design.md``):

1. The counts are the convolution of the layers' tap patterns, so they do not depend on the
   order of the layers: a schedule is a *multiset* of rates.
2. With the rates sorted ascending, the covered set is an interval (no gridding) exactly when
   every rate is at most the receptive field of the layers before it:
   ``r_i <= RF_{i-1}`` with ``RF_0 = 1`` and ``RF_i = RF_{i-1} + (K-1) r_i`` (any ``K >= 2``).

So :func:`design` walks sorted multisets, prunes with the criterion and with exact bounds, and
never enumerates orders. For square kernels the 2-D count is the outer product of the 1-D
counts, so the 2-D minimum over a square window is the 1-D minimum squared.

    >>> is_gridding_free([1, 2, 5]), is_gridding_free([2, 2, 2]), is_gridding_free([5, 1, 2])
    (True, False, True)
    >>> [c.rates for c in design(kernel=3, layers=3, top=2)]
    [(1, 3, 9), (1, 3, 8)]
    >>> best = design(kernel=3, target_rf=129, top=1)[0]
    >>> best.layers, best.rf, best.rates
    (5, 129, (1, 1, 5, 14, 43))
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from ._design_bounds import Mode, _dtype, _most_sum, _Query, _space, _window
from ._design_repair import Change, Repair, Repairs, repair
from ._design_search import (
    MAX_LAYERS,
    SCHEMA_VERSION,
    SPACE_PER_NODE,
    _kernel,
    _opt_int,
    _refuse_space,
    _search,
    is_gridding_free,
)
from ._types import Ints, as_choice, as_int
from .errors import AtrousError, TooLargeError
from .rules import _rates

__all__ = [
    "Candidate",
    "Change",
    "Designs",
    "Objective",
    "ParetoFrontier",
    "ParetoPoint",
    "Repair",
    "Repairs",
    "count_profile",
    "default_objective",
    "design",
    "is_gridding_free",
    "pareto",
    "repair",
]

Objective = Literal["rf", "layers", "uniform"]
"""``"rf"``: largest RF for ``layers`` layers; ``"layers"``: fewest layers reaching
``target_rf``; ``"uniform"``: largest minimum count over the ``target_rf`` window."""

DEFAULT_MAX_NODES = 400_000
"""Partial schedules the search may visit before it gives up with :class:`TooLargeError`."""
DEFAULT_TIME_LIMIT = 10.0
"""CPU seconds a search may run before it gives up with :class:`TooLargeError` (a most-uniform
search gives up after about a second when its projected time exceeds this)."""
PROFILE_MAX = 1 << 21
"""Longest 1-D count profile computed (longer receptive fields report no counts)."""


# -- the exact criterion and exact counts ----------------------------------------------------
def count_profile(rates: Sequence[int], kernel: int = 3) -> np.ndarray:
    """Exact 1-D counts: paths from each offset of the receptive field to one output unit.

    The convolution of the layers' tap patterns (``K`` ones spaced ``rate`` apart). For square
    kernels the 2-D map is ``np.outer(p, p)`` of this profile ``p``.

    >>> count_profile([1, 2]).tolist()
    [1, 1, 2, 1, 2, 1, 1]
    """
    r = _rates(rates)
    k = _kernel(kernel)
    length = 1 + (k - 1) * sum(r)
    if length > PROFILE_MAX:
        raise TooLargeError(f"a count profile of {length} offsets exceeds {PROFILE_MAX}")
    from ._coverage import tap_profile  # the one geometry: each rate is a stride-1 Taps record
    from .geometry import Taps

    prof = tap_profile([Taps(1, 0, rate, k) for rate in r])
    out: np.ndarray = prof.astype(_dtype(k, len(r)), copy=False)
    return out


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One gridding-free schedule proposed by :func:`design`.

    Attributes:
        rates: the dilation rates in a suggested layer order (rising, or the sawtooth group
            repeated); any order has the same coverage.
        kernel: kernel size ``K`` of every layer.
        ndim: number of spatial axes the counts and costs refer to.
        rf: receptive field per axis, ``1 + (K-1) * sum(rates)``.
        window: width per axis of the centred window the counts are measured over (the target
            RF if one was given, else ``rf``).
        min_count: fewest paths from a pixel of the window (``ndim``-D; the corners of the full
            RF box always have 1), or None when the RF is too large to count.
        max_count: most paths to a pixel of the window (``ndim``-D), or None.
        profile: the exact 1-D counts over the whole RF (the ``ndim``-D map is their outer
            product), or None when too large.
        groups: how often the sawtooth group repeats (1 without the sawtooth option).
        channels: channel width the costs assume, or None.
        params: weights of the stack (``layers * K**ndim * channels**2``, no bias), or None.
        macs: multiply-accumulates per output position, or per map with ``feature_size``.
        hdc: the HDC rule's verdicts for ``rates`` in this order (:func:`atrous.hdc_check`).
        gridding_free: always True (checked by the exact criterion).
    """

    rates: Ints
    kernel: int
    ndim: int
    rf: int
    window: int
    min_count: int | None
    max_count: int | None
    profile: tuple[int, ...] | None = field(repr=False)
    groups: int = 1
    channels: int | None = None
    params: int | None = None
    macs: int | None = None
    hdc: Any = field(default=None, repr=False)
    gridding_free: bool = True

    @property
    def layers(self) -> int:
        """Number of layers."""
        return len(self.rates)

    @property
    def uniformity(self) -> float | None:
        """``min_count / max_count`` over the window (1.0 is perfectly even)."""
        if self.min_count is None or not self.max_count:
            return None
        return self.min_count / self.max_count

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        hdc = self.hdc.to_dict() if hasattr(self.hdc, "to_dict") else None
        return {
            "rates": list(self.rates),
            "kernel": self.kernel,
            "ndim": self.ndim,
            "layers": self.layers,
            "rf": self.rf,
            "window": self.window,
            "min_count": self.min_count,
            "max_count": self.max_count,
            "uniformity": self.uniformity,
            "groups": self.groups,
            "channels": self.channels,
            "params": self.params,
            "macs": self.macs,
            "gridding_free": self.gridding_free,
            "hdc": hdc,
            "profile": None if self.profile is None else [int(v) for v in self.profile],
        }


@dataclass(frozen=True)
class ParetoPoint:
    """The widest evenly covered window reachable with ``layers`` layers at a count level.

    Attributes:
        layers: number of layers.
        count: per-axis minimum count ``C`` (the ``ndim``-D minimum is ``C**ndim``).
        width: widest centred window per axis in which every pixel has ``>= count`` paths
            (for ``count == 1`` this is the largest gridding-free RF).
        rates: a schedule reaching it (rising order), or None when no window exists.
        rf: that schedule's full RF per axis.
        optimal: True when no other point has as few layers, as high a count and as wide a
            window, with one of them strictly better (the Pareto frontier).
    """

    layers: int
    count: int
    width: int
    rates: Ints | None
    rf: int
    optimal: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "layers": self.layers,
            "count": self.count,
            "width": self.width,
            "rates": None if self.rates is None else list(self.rates),
            "rf": self.rf,
            "optimal": self.optimal,
        }


@dataclass(frozen=True)
class ParetoFrontier:
    """RF against layers against uniformity for one kernel and max rate (:func:`pareto`).

    Attributes:
        kernel: kernel size.
        max_rate: largest rate allowed (None: only the criterion bounds the rates).
        ndim: axes the ``ndim``-D counts refer to.
        counts: the per-axis count levels tabulated.
        points: one :class:`ParetoPoint` per (layers, count level).
    """

    kernel: int
    max_rate: int | None
    ndim: int
    counts: Ints
    points: tuple[ParetoPoint, ...]

    def width(self, layers: int, count: int = 1) -> int:
        """The tabulated width for ``layers`` layers at per-axis count ``count``."""
        for p in self.points:
            if p.layers == layers and p.count == count:
                return p.width
        raise AtrousError(f"no point for layers={layers}, count={count} in this frontier")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "kernel": self.kernel,
            "max_rate": self.max_rate,
            "ndim": self.ndim,
            "counts": list(self.counts),
            "points": [p.to_dict() for p in self.points],
        }

    def to_json(self) -> dict[str, Any]:
        """The JSON record (``atrous design --pareto --json``): a JSON-able dict."""
        return {"schema_version": SCHEMA_VERSION, "kind": "pareto", **self.to_dict()}


# -- design -----------------------------------------------------------------------------------
def _root(value: int, ndim: int) -> int:
    """Smallest per-axis count whose ``ndim``-th power is at least ``value``."""
    r = max(1, round(math.pow(value, 1.0 / ndim)))
    while r**ndim < value:
        r += 1
    while r > 1 and (r - 1) ** ndim >= value:
        r -= 1
    return r


def _groups_option(sawtooth: Any) -> int | None:
    """0: off; None: any repeat count >= 2; n: exactly n repeats."""
    if isinstance(sawtooth, bool):
        return None if sawtooth else 0
    if isinstance(sawtooth, numbers.Integral):
        g = as_int(sawtooth, "sawtooth", 1)
        return 0 if g == 1 else g
    raise AtrousError(f"sawtooth must be True/False or a repeat count >= 1, got {sawtooth!r}")


def _feature_sizes(feature_size: Any, ndim: int) -> Ints | None:
    if feature_size is None:
        return None
    if isinstance(feature_size, numbers.Integral) and not isinstance(feature_size, bool):
        return (as_int(feature_size, "feature_size", 1),) * ndim
    if isinstance(feature_size, Sequence) and not isinstance(feature_size, (str, bytes)):
        sizes = tuple(as_int(v, "feature_size", 1) for v in feature_size)
        if len(sizes) != ndim:
            raise AtrousError(
                f"feature_size must have one entry per axis (ndim={ndim}), got {feature_size!r}"
            )
        return sizes
    raise AtrousError(f"feature_size must be an int or one int per axis, got {feature_size!r}")


def _feature_cap(feature: Sequence[int], kernel: int) -> int:
    """Largest rate whose dilated kernel ``(K-1)*r + 1`` fits the smallest feature-map side."""
    return max(1, (min(feature) - 1) // (kernel - 1))


def _candidate(
    group: Ints,
    groups: int,
    kernel: int,
    ndim: int,
    window: int | None,
    channels: int | None,
    feature: Ints | None,
) -> Candidate:
    rates = tuple(group) * groups
    rf = 1 + (kernel - 1) * sum(rates)
    profile: np.ndarray | None = None
    lo = hi = None
    if rf <= PROFILE_MAX:
        profile = count_profile(rates, kernel)
        s, e = _window(rf, window if window is not None else rf)
        lo = int(profile[s:e].min()) ** ndim
        hi = int(profile[s:e].max()) ** ndim
    params = macs = None
    if channels is not None:
        params = len(rates) * kernel**ndim * channels * channels
        macs = params * (math.prod(feature) if feature is not None else 1)
    hdc = None
    if rf <= 1 << 16:
        from .rules import hdc_check

        hdc = hdc_check(rates, kernel)
    return Candidate(
        rates=rates,
        kernel=kernel,
        ndim=ndim,
        rf=rf,
        window=window if window is not None else rf,
        min_count=lo,
        max_count=hi,
        profile=None if profile is None else tuple(int(v) for v in profile),
        groups=groups,
        channels=channels,
        params=params,
        macs=macs,
        hdc=hdc,
    )


@dataclass(frozen=True)
class _Ask:
    """A checked :func:`design` question."""

    kernel: int
    ndim: int
    layers: int | None
    target: int | None
    max_rate: int | None
    capped_by_feature: bool
    objective: Objective
    min_count: int
    reps: int | None  # 0: no sawtooth; None: any repeat count; n: exactly n repeats
    channels: int | None
    feature: Ints | None
    top: int
    max_nodes: int
    time_limit: float | None


def default_objective(layers: int | None, target_rf: int | None) -> Objective:
    """The objective :func:`design` answers when none is named.

    ``"rf"`` when only ``layers`` is given, ``"layers"`` when only ``target_rf`` is,
    ``"uniform"`` for both.

    >>> default_objective(4, None), default_objective(None, 129), default_objective(8, 129)
    ('rf', 'layers', 'uniform')
    """
    if layers is None and target_rf is None:
        raise AtrousError(
            "design needs layers= (largest RF) or target_rf= (fewest layers), "
            "or both (most uniform)"
        )
    return "rf" if target_rf is None else "layers" if layers is None else "uniform"


def _ask(
    kernel: Any, layers: Any, target_rf: Any, max_rate: Any, objective: Any, opts: dict[str, Any]
) -> _Ask:
    """Check :func:`design`'s arguments (``opts``: its keyword-only ones, by name)."""
    k = _kernel(kernel)
    nd = _ndim(opts["ndim"])
    n = _opt_int(layers, "layers", 1)
    t = _opt_int(target_rf, "target_rf", 1)
    feature = _feature_sizes(opts["feature_size"], nd)
    cap = _opt_int(max_rate, "max_rate", 1)
    from_feature = cap is None and feature is not None
    if cap is None and feature is not None:
        cap = _feature_cap(feature, k)
    cnt = as_int(opts["min_count"], "min_count", 1)
    if not isinstance(opts["first_rate_one"], bool):
        raise AtrousError(f"first_rate_one must be True or False, got {opts['first_rate_one']!r}")
    if n is not None and n > MAX_LAYERS:
        raise AtrousError(f"layers must be <= {MAX_LAYERS}, got {n}")
    goal = default_objective(n, t) if objective is None else objective
    as_choice(goal, get_args(Objective), "objective")  # an array is no choice either
    if goal in ("rf", "uniform") and n is None:
        raise AtrousError(f"objective {goal!r} needs layers=N")
    if goal in ("layers", "uniform") and t is None:
        raise AtrousError(f"objective {goal!r} needs target_rf=")
    if cnt > 1 and t is None:
        raise AtrousError(
            f"min_count={cnt} needs target_rf: the corners of the full receptive "
            "field are reached by exactly one path"
        )
    return _Ask(
        kernel=k,
        ndim=nd,
        layers=n,
        target=t,
        max_rate=cap,
        capped_by_feature=from_feature,
        objective=goal,
        min_count=cnt,
        reps=_groups_option(opts["sawtooth"]),
        channels=_opt_int(opts["channels"], "channels", 1),
        feature=feature,
        top=as_int(opts["top"], "top", 1),
        max_nodes=as_int(opts["max_nodes"], "max_nodes", 1),
        time_limit=_time_limit(opts["time_limit"]),
    )


def _ndim(ndim: Any) -> int:
    nd = as_int(ndim, "ndim", 1)
    if nd > 3:
        raise AtrousError(f"ndim must be 1, 2 or 3, got {nd}")
    return nd


def _time_limit(value: Any) -> float | None:
    """``time_limit`` checked: None, or a positive real number of seconds (numpy's too; an
    integer too large for a float is no limit).

    >>> _time_limit(10), _time_limit(10**400)
    (10.0, inf)
    """
    if value is None:
        return None
    positive = isinstance(value, numbers.Real) and value > 0  # type: ignore[operator]
    if isinstance(value, (bool, np.bool_)) or not positive:
        raise AtrousError(f"time_limit must be a positive number of seconds, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # an integer past 1.8e308 seconds
        return math.inf


def _progress(value: Any) -> Callable[[float], None] | None:
    """``progress`` checked: None or a callable (called only during a long search, so a
    wrong value would otherwise fail seconds into it)."""
    if value is not None and not callable(value):
        raise AtrousError(f"progress must be a callable taking the fraction done, or None, "
                          f"got {type(value).__name__}")
    checked: Callable[[float], None] | None = value
    return checked


class Designs(list[Candidate]):
    """The ranked candidates of :func:`design` (a list), with the question they answer.

    Attributes:
        objective: the objective answered (``"rf"``, ``"layers"`` or ``"uniform"``).
        kernel, ndim, layers, target_rf, max_rate, min_count: the question, checked.
        capped_by_feature: True when ``max_rate`` came from ``feature_size``.
        sawtooth: 0 without the sawtooth option, None for any repeat count, else the count.
    """

    def __init__(self, found: list[Candidate], ask: _Ask) -> None:
        super().__init__(found)
        self.objective: Objective = ask.objective
        self.kernel = ask.kernel
        self.ndim = ask.ndim
        self.layers = ask.layers
        self.target_rf = ask.target
        self.max_rate = ask.max_rate
        self.capped_by_feature = ask.capped_by_feature
        self.min_count = ask.min_count
        self.sawtooth = ask.reps

    def describe(self) -> str:
        """The question in words (the CLI's title line).

        >>> design(kernel=3, layers=4, top=1).describe()
        'gridding-free schedules, kernel 3, 2-D: largest RF with 4 layers'
        """
        what = {
            "rf": f"largest RF with {self.layers} layers",
            "layers": f"fewest layers reaching RF {self.target_rf}",
            "uniform": f"most uniform {self.layers}-layer coverage of RF {self.target_rf}",
        }[self.objective]
        cap = "" if self.max_rate is None else f", rates <= {self.max_rate}"
        if self.capped_by_feature:
            cap += " (from --feature-size)"
        if self.sawtooth is None:
            cap += ", sawtooth: one rising group repeated"
        elif self.sawtooth > 1:
            cap += f", sawtooth: one rising group repeated {self.sawtooth} times"
        if self.min_count > 1:
            cap += f", every window pixel used >= {self.min_count} times"
        return f"gridding-free schedules, kernel {self.kernel}, {self.ndim}-D: {what}{cap}"

    def to_json(self) -> dict[str, Any]:
        """The JSON record (``atrous design --json``): a JSON-able dict."""
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "design",
            "candidates": [c.to_dict() for c in self],
        }


def design(
    kernel: int = 3,
    layers: int | None = None,
    target_rf: int | None = None,
    max_rate: int | None = None,
    *,
    objective: Objective | None = None,
    min_count: int = 1,
    first_rate_one: bool = False,
    sawtooth: bool | int = False,
    ndim: int = 2,
    channels: int | None = None,
    feature_size: int | Sequence[int] | None = None,
    top: int = 10,
    max_nodes: int = DEFAULT_MAX_NODES,
    time_limit: float | None = DEFAULT_TIME_LIMIT,
    progress: Callable[[float], None] | None = None,
) -> Designs:
    """Ranked gridding-free dilation schedules, found by exact search (no order enumeration).

    Args:
        kernel: kernel size ``K >= 2`` of every layer (square kernels in 2-D).
        layers: number of layers (``"rf"``, ``"uniform"``), or the most layers ``"layers"``
            may use.
        target_rf: receptive field per axis to reach; the counts are measured over the centred
            ``target_rf`` window.
        max_rate: largest dilation rate allowed. Defaults to the largest rate whose dilated
            kernel fits ``feature_size`` when that is given, else only the criterion bounds it.
        objective: ``"rf"`` (largest RF for ``layers`` layers), ``"layers"`` (fewest layers
            reaching ``target_rf``) or ``"uniform"`` (largest minimum count over the
            ``target_rf`` window with ``layers`` layers). Default: :func:`default_objective`.
        min_count: every pixel of the ``target_rf`` window must have at least this many paths
            (``ndim``-D count). Values above 1 need ``target_rf``: the corners of a full RF box
            are always reached by exactly one path.
        first_rate_one: HDC's "start at rate 1". Every gridding-free schedule contains a 1
            (its smallest rate must be ``<= RF_0 = 1``), so this never removes a candidate;
            candidates are always listed starting with 1.
        sawtooth: HDC's "sawtooth": a repeat count ``n >= 2`` asks for one strictly rising
            group repeated ``n`` times (``[1, 2, 5, 1, 2, 5]``); True allows any ``n >= 2``
            dividing the layer count; False (or 1) puts no constraint.
        ndim: spatial axes the counts and costs refer to (1, 2 or 3).
        channels: channel width for the parameter and MAC counts.
        feature_size: feature-map size (int or per axis): MACs per map, and the default
            ``max_rate``.
        top: how many candidates to return.
        max_nodes: give up after visiting this many partial schedules.
        time_limit: give up after this many seconds of CPU time (None: no limit but
            ``max_nodes``); CPU time, so that other programs on the same cores do not make the
            same search fail. A search whose time, projected after about a second from the
            fraction of its space done, exceeds the limit gives up then.
        progress: called about twice a second during a long search with the fraction done.

    Returns:
        Up to ``top`` :class:`Candidate` objects, best first, in a :class:`Designs` list that
        also carries the question (``.describe()``, ``.to_json()``). With ``min_count > 1`` ties
        of the objective are broken by the larger minimum count over the window; then by the
        rates (rising order, smaller first; for ``"rf"`` larger first). Every one is
        gridding-free.

    Raises:
        AtrousError: a bad argument, or no schedule meets the constraints.
        TooLargeError: the search exceeded ``max_nodes`` or ``time_limit``; the message names
            the knobs that narrow it.

    The known optimum: ``K**N`` with rates ``1, K, K**2, ...``:

    >>> c = design(kernel=3, layers=4, top=1)[0]
    >>> c.rates, c.rf == 3**4
    ((1, 3, 9, 27), True)
    >>> [c.rates for c in design(kernel=3, layers=6, sawtooth=2, top=2)]
    [(1, 5, 25, 1, 5, 25), (1, 5, 24, 1, 5, 24)]
    >>> u = design(kernel=3, layers=5, target_rf=41, top=1)[0]
    >>> u.rates, u.min_count, u.window
    ((1, 1, 2, 5, 15), 25, 41)
    """
    opts = dict(min_count=min_count, first_rate_one=first_rate_one, sawtooth=sawtooth, ndim=ndim,
                channels=channels, feature_size=feature_size, top=top, max_nodes=max_nodes,
                time_limit=time_limit)
    ask = _ask(kernel, layers, target_rf, max_rate, objective, opts)
    return _designs(ask, _progress(progress))


def _designs(ask: _Ask, progress: Callable[[float], None] | None) -> Designs:
    """Answer a checked :func:`design` question: every search it needs, ranked and distinct."""
    deadline = None if ask.time_limit is None else time.process_time() + ask.time_limit
    ranked = _rank(ask, deadline, progress)
    out = _distinct(ask, ranked)
    if not out:
        raise AtrousError(_nothing_found(ask))
    return Designs(out, ask)


def _rank(
    ask: _Ask, deadline: float | None, progress: Callable[[float], None] | None
) -> list[tuple[tuple[Any, ...], Ints, int]]:
    """Every search the question needs: ``(key, tie, repeats)`` per hit, unsorted."""
    per_axis = _root(ask.min_count, ask.ndim)
    ranked: list[tuple[tuple[Any, ...], Ints, int]] = []

    def collect(total: int, mode: Mode, prefix: tuple[int, ...]) -> None:
        for g in _repeat_counts(ask.reps, total):
            q = _Query(
                kernel=ask.kernel,
                groups=g,
                size=total // g,
                max_rate=ask.max_rate,
                target=ask.target,
                count=per_axis,
                mode=mode,
                top=ask.top,
                strict=g > 1,
                max_nodes=ask.max_nodes,
            )
            for h in _search(q, deadline=deadline, progress=progress, limit=ask.time_limit):
                tie = tuple(-r for r in h.rates) if mode == "rf" else h.rates
                ranked.append(((*prefix, *h.key), tie, g))

    reps = ask.reps
    if ask.objective == "layers":
        limit = ask.layers if ask.layers is not None else MAX_LAYERS
        for total in range(1, limit + 1):
            if ranked and len(ranked) >= ask.top:
                break
            if not (reps is not None and reps and total % reps):
                collect(total, "close", (total,))
        return ranked
    n = ask.layers
    assert n is not None
    if reps is not None and reps and n % reps:
        raise AtrousError(f"layers={n} is not a multiple of the sawtooth repeat {reps}")
    if ask.objective == "uniform":  # refused up front when its space is too large
        allowed = SPACE_PER_NODE * ask.max_nodes
        space = sum(  # sawtooth groups bound their children one by one: 16x the work
            _space(ask.kernel, n // g, g, ask.max_rate, g > 1, allowed) * (16 if g > 1 else 1)
            for g in _repeat_counts(reps, n)
        )
        knobs = "fewer layers (--layers), a smaller max_rate (--max-rate)"
        _refuse_space(space, ask.max_nodes, "this most-uniform search", knobs)
    collect(n, "rf" if ask.objective == "rf" else "uniform", ())
    return ranked


def _repeat_counts(reps: int | None, total: int) -> list[int]:
    """The sawtooth repeat counts to search for ``total`` layers."""
    if reps == 0:
        return [1]
    if reps is None:
        return [g for g in range(2, total + 1) if total % g == 0]
    return [] if total % reps else [reps]


def _distinct(ask: _Ask, ranked: list[tuple[tuple[Any, ...], Ints, int]]) -> list[Candidate]:
    """The best ``top`` distinct schedules of the hits, as candidates."""
    ranked.sort(key=lambda item: (item[0], item[1]))
    seen: set[Ints] = set()
    out: list[Candidate] = []
    for _key, tie, g in ranked:
        group = tuple(-r for r in tie) if ask.objective == "rf" else tie
        full = tuple(sorted(group * g))
        if full in seen:
            continue
        seen.add(full)
        out.append(
            _candidate(group, g, ask.kernel, ask.ndim, ask.target, ask.channels, ask.feature)
        )
        if len(out) >= ask.top:
            break
    return out


def _nothing_found(ask: _Ask) -> str:
    n, k, cap = ask.layers, ask.kernel, ask.max_rate
    parts = [f"kernel {k}"]
    if n is not None:
        parts.append(f"{'at most ' if ask.objective == 'layers' else ''}{n} layers")
    if ask.target is not None:
        parts.append(f"target RF {ask.target}")
    if cap is not None:
        parts.append(f"max rate {cap}")
    if ask.min_count > 1:
        parts.append(f"min count {ask.min_count}")
    if ask.reps is None or ask.reps:
        parts.append("sawtooth groups")
    hint = ""
    if n is not None:
        best = _most_sum(k, n, cap)
        if best is not None:
            hint = f"; the largest gridding-free RF with {n} layers is {1 + (k - 1) * best}"
    return "no gridding-free schedule meets " + ", ".join(parts) + hint


# -- pareto -----------------------------------------------------------------------------------
def pareto(
    kernel: int = 3,
    max_rate: int | None = 16,
    max_layers: int = 6,
    *,
    counts: Sequence[int] = (1, 2, 3, 4),
    ndim: int = 2,
    max_nodes: int = DEFAULT_MAX_NODES,
    time_limit: float | None = DEFAULT_TIME_LIMIT,
    progress: Callable[[float], None] | None = None,
) -> ParetoFrontier:
    """RF against layers against uniformity: the widest evenly covered window per layer count.

    For every number of layers ``1..max_layers`` and every per-axis count level ``C`` in
    ``counts``, the exact widest centred window (per axis) in which every pixel has at least
    ``C`` paths, over all gridding-free schedules with rates ``<= max_rate``. ``C = 1`` is the
    largest gridding-free RF.

    Args:
        kernel: kernel size ``K >= 2``.
        max_rate: largest rate (None: only the criterion bounds the rates).
        max_layers: most layers tabulated.
        counts: per-axis count levels (the ``ndim``-D minimum is ``C**ndim``).
        ndim: axes the counts refer to (reported only).
        max_nodes: search budget per point.
        time_limit: give up with :class:`TooLargeError` after this many CPU seconds in all
            (or after about a second of a point whose projected time exceeds what is left).
        progress: called about twice a second during a long search with the fraction done.

    >>> f = pareto(kernel=3, max_rate=16, max_layers=3, counts=(1, 2))
    >>> [(p.layers, p.count, p.width) for p in f.points]
    [(1, 1, 3), (1, 2, 0), (2, 1, 9), (2, 2, 3), (3, 1, 27), (3, 2, 11)]
    """
    k = _kernel(kernel)
    cap = _opt_int(max_rate, "max_rate", 1)
    top_layers = as_int(max_layers, "max_layers", 1)
    if top_layers > MAX_LAYERS:
        raise AtrousError(f"max_layers must be <= {MAX_LAYERS}, got {top_layers}")
    nd = _ndim(ndim)
    if isinstance(counts, (str, bytes)) or not isinstance(counts, Sequence) or not counts:
        raise AtrousError(f"counts must be a non-empty sequence of ints, got {counts!r}")
    levels = tuple(sorted({as_int(v, "count", 1) for v in counts}))
    budget = as_int(max_nodes, "max_nodes", 1)
    limit = _time_limit(time_limit)
    progress = _progress(progress)
    allowed = SPACE_PER_NODE * budget
    space = 0.0
    for n in range(1, top_layers + 1):  # refused up front when the space is too large
        space += len(levels) * _space(k, n, 1, cap, False, allowed)
        if space > allowed:
            break
    knobs = "fewer layers (--layers), a smaller max_rate (--max-rate), fewer count levels"
    _refuse_space(space, budget, "this Pareto table", knobs)
    deadline = None if limit is None else time.process_time() + limit
    raw: list[tuple[int, int, int, Ints | None, int]] = []
    for n in range(1, top_layers + 1):
        for level in levels:
            point = len(raw)
            share = 1 / (top_layers * len(levels))

            def report(done: float, point: int = point, share: float = share) -> None:
                if progress is not None:
                    progress((point + done) * share)

            raw.append(_pareto_point(k, n, level, cap, budget, (deadline, limit), report))
    return ParetoFrontier(k, cap, nd, levels, _frontier(raw))


def _pareto_point(
    k: int,
    n: int,
    level: int,
    cap: int | None,
    budget: int,
    clock: tuple[float | None, float | None],
    report: Callable[[float], None],
) -> tuple[int, int, int, Ints | None, int]:
    """One point of :func:`pareto`: ``(n, level, width, rates, rf)``, the widest centred window
    of ``n`` layers (rates ``<= cap``) with every per-axis count ``>= level`` (width 0 and no
    rates when none has one)."""
    q = _Query(
        kernel=k,
        groups=1,
        size=n,
        max_rate=cap,
        target=None,
        count=level,
        mode="width",
        top=1,
        strict=False,
        max_nodes=budget,
    )
    deadline, limit = clock  # the table's deadline and its time limit as stated
    hits = _search(q, deadline=deadline, progress=report, limit=limit)
    if not hits:
        return (n, level, 0, None, 0)
    group = hits[0].rates
    return (n, level, -hits[0].key[0], group, 1 + (k - 1) * sum(group))


def _frontier(raw: list[tuple[int, int, int, Ints | None, int]]) -> tuple[ParetoPoint, ...]:
    """The points, each marked optimal unless another has as few layers, as high a count and
    as wide a window, one of them strictly better."""
    points = []
    for n, level, width, rates, rf in raw:
        dominated = width == 0 or any(
            (n2 <= n and c2 >= level and w2 >= width) and (n2, c2, w2) != (n, level, width)
            for n2, c2, w2, _, _ in raw
        )
        points.append(ParetoPoint(n, level, width, rates, rf, not dominated))
    return tuple(points)
