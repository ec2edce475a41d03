"""The dilation tax: how much slower a dilated convolution runs than an undilated one.

Some GPU stacks run dilated convolutions far slower than dense ones (PyTorch issues report ~4x
on cuDNN at dilation 2-3, 10-80x with ``cudnn.deterministic=True``, 62x on MIOpen); rearranging
the input into phases (``space_to_batch``, ``phase``) turns a dilated convolution into dense
ones. :func:`dilation_tax` times each implementation of :func:`atrous.nn.functional.dilated_conv2d`
(and 1-D / 3-D) at each dilation and reports ``t(d) / t(1)``, with ``t(1)`` the native
convolution at dilation 1 on the same input. ``atrous bench`` prints the same table.

    >>> tax = dilation_tax((1, 4, 16, 16), dilations=(1, 2), impls=("native", "phase"), repeats=1)
    >>> [(r.impl, r.dilation) for r in tax.rows]
    [('native', 1), ('phase', 1), ('native', 2), ('phase', 2)]
    >>> tax.rows[0].ratio
    1.0
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .._types import as_int
from ..errors import AtrousError
from . import _impl
from ._impl import interleaved

__all__ = ["DilationTax", "TaxRow", "dilation_tax"]

IMPLS = ("native", "space_to_batch", "phase", "auto")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
          "float64": torch.float64}


@dataclass(frozen=True)
class TaxRow:
    """One timing of :func:`dilation_tax`.

    Attributes:
        impl: the implementation (``"auto"``: what its probe chose, in ``chose``).
        dilation: the dilation rate on every axis.
        deterministic: ``torch.backends.cudnn.deterministic`` during the run.
        seconds: the fastest of the repeated runs (forward, or forward + backward).
        ratio: ``seconds`` over the native time at dilation 1 (same determinism).
        max_error: largest absolute difference from the native output.
        chose: for ``"auto"``, the implementation it picked; else the same as ``impl``.
    """

    impl: str
    dilation: int
    deterministic: bool
    seconds: float
    ratio: float
    max_error: float
    chose: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class DilationTax:
    """The result of :func:`dilation_tax`: the question and one :class:`TaxRow` per timing."""

    device: str
    dtype: str
    size: tuple[int, ...]
    out_channels: int
    kernel: int
    backward: bool
    rows: tuple[TaxRow, ...]

    def table(self) -> str:
        """The timings as text: one line per (determinism, dilation), one column per impl."""
        impls = list(dict.fromkeys(r.impl for r in self.rows))
        what = "forward + backward" if self.backward else "forward"
        size = "x".join(map(str, self.size))
        cpu = self.device.startswith("CPU")
        clock = "CPU time of the process" if cpu else "wall time, synchronised"
        lines = [
            f"dilation tax on {self.device}, {self.dtype}, input {size}, {self.out_channels} "
            f"output channels, kernel {self.kernel}, {what}",
            f"each cell: fastest time ({clock}), and t(d)/t(1) with t(1) = native at dilation 1",
        ]
        for det in dict.fromkeys(r.deterministic for r in self.rows):
            lines.append(f"cudnn.deterministic={det}")
            lines.append(f"{'dilation':>9}" + "".join(f"{i:>24}" for i in impls))
            for d in dict.fromkeys(r.dilation for r in self.rows):
                cells = []
                for impl in impls:
                    r = next(x for x in self.rows
                             if (x.impl, x.dilation, x.deterministic) == (impl, d, det))
                    pick = f" [{r.chose}]" if r.impl == "auto" else ""
                    cells.append(f"{_ms(r.seconds)} {r.ratio:5.2f}x{pick}")
                lines.append(f"{d:>9}" + "".join(f"{c:>24}" for c in cells))
        lines.extend(self.auto_lines())
        worst = max(r.max_error for r in self.rows)
        lines.append(f"largest difference from the native output: {worst:.2g}")
        return "\n".join(lines)

    def auto_lines(self) -> list[str]:
        """What ``impl="auto"`` picked per dilation and its time over native's (when both were
        timed): the lines under the table."""
        picks, ratios = [], []
        for r in self.rows:
            if r.impl != "auto":
                continue
            picks.append(f"d={r.dilation}{'' if len(self._dets()) == 1 else f'/{r.deterministic}'}"
                         f" {r.chose}")
            native = [n for n in self.rows if (n.impl, n.dilation, n.deterministic)
                      == ("native", r.dilation, r.deterministic)]
            if native:
                ratios.append(r.seconds / native[0].seconds)
        if not picks:
            return []
        lines = [f"impl=auto picked: {', '.join(picks)}"]
        if ratios:
            lines.append(f"auto / native at the same dilation: {min(ratios):.2f}x to "
                         f"{max(ratios):.2f}x")
        return lines

    def _dets(self) -> list[bool]:
        return list(dict.fromkeys(r.deterministic for r in self.rows))

    def to_json(self) -> dict[str, Any]:
        """The JSON record (``atrous bench --json``)."""
        return {
            "schema_version": 1,
            "kind": "dilation-tax",
            "device": self.device,
            "dtype": self.dtype,
            "size": list(self.size),
            "out_channels": self.out_channels,
            "kernel": self.kernel,
            "backward": self.backward,
            "rows": [r.to_dict() for r in self.rows],
        }


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.3f} ms"


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model and the torch thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU {model} ({torch.get_num_threads()} torch threads)"


def dilation_tax(
    size: Sequence[int] = (1, 32, 64, 64),
    *,
    out_channels: int | None = None,
    kernel: int = 3,
    dilations: Sequence[int] = (1, 2, 4, 8),
    impls: Sequence[str] = ("native", "space_to_batch", "phase", "auto"),
    dtype: str | torch.dtype = "float32",
    device: str | torch.device = "cpu",
    deterministic: Sequence[bool] = (False,),
    backward: bool = False,
    repeats: int = 5,
) -> DilationTax:
    """Time each implementation of a dilated convolution at each dilation (``"same"`` padding).

    Args:
        size: the input ``(N, C, *spatial)``, 1 to 3 spatial axes.
        out_channels: output channels (default: ``C``).
        kernel: kernel size on every axis.
        dilations: the rates timed; 1 is added when missing (it is the reference).
        impls: from ``"native"``, ``"space_to_batch"``, ``"phase"``, ``"zero_kernel"``,
            ``"auto"`` (``auto`` probes once per shape, then runs its choice).
        dtype: ``"float32"``, ``"bfloat16"``, ``"float16"``, ``"float64"`` or a torch dtype.
        device: where to run (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...).
        deterministic: the values of ``torch.backends.cudnn.deterministic`` to time under
            (restored afterwards).
        backward: time forward + backward (input and weight gradients) instead of forward.
        repeats: timed rounds after one warm-up; each round runs every implementation once,
            in an order that rotates from round to round; per cell the fastest counts.

    Returns:
        A :class:`DilationTax`; ``.table()`` is the text ``atrous bench`` prints.
    """
    from . import functional as fn

    shape = tuple(as_int(v, "size", 1) for v in size)
    if not 3 <= len(shape) <= 5:
        raise AtrousError(f"size must be (N, C, *spatial) with 1 to 3 spatial axes, got {shape}")
    dt = _dtype(dtype)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise AtrousError(f"device {str(dev)!r} is not available (torch sees no CUDA device)")
    rates = sorted({1, *(as_int(d, "dilation", 1) for d in dilations)})
    for impl in impls:
        if impl not in (*IMPLS, "zero_kernel"):
            raise AtrousError(f"impl must be one of {', '.join(map(repr, IMPLS))}, got {impl!r}")
    c_out = as_int(out_channels, "out_channels", 1) if out_channels is not None else shape[1]
    k = as_int(kernel, "kernel", 1)
    conv = {3: fn.dilated_conv1d, 4: fn.dilated_conv2d, 5: fn.dilated_conv3d}[len(shape)]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).to(dev, dt)
    w = (torch.randn((c_out, shape[1], *[k] * (len(shape) - 2)), generator=gen) * 0.1).to(dev, dt)
    x.requires_grad_(backward)
    w.requires_grad_(backward)
    rows: list[TaxRow] = []
    saved = torch.backends.cudnn.deterministic
    try:
        for det in deterministic:
            torch.backends.cudnn.deterministic = bool(det)
            rows += _time_rows(conv, x, w, rates, list(impls), bool(det), backward, repeats)
    finally:
        torch.backends.cudnn.deterministic = saved
    name = str(dt).replace("torch.", "")
    return DilationTax(device_name(dev), name, shape, c_out, k, backward, tuple(rows))


def _dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise AtrousError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


def _time_rows(
    conv: Any,
    x: torch.Tensor,
    w: torch.Tensor,
    rates: list[int],
    impls: list[str],
    det: bool,
    backward: bool,
    repeats: int,
) -> list[TaxRow]:
    """Time every (dilation, impl) pair; ratios against native at dilation 1."""
    rows: list[TaxRow] = []
    base: float | None = None
    for d in rates:
        with torch.no_grad():
            ref = conv(x, w, None, padding="same", dilation=d, impl="native")
        steps = {}
        for impl in ["native", *[i for i in impls if i != "native"]]:

            def step(impl: str = impl, d: int = d) -> None:
                y = conv(x, w, None, padding="same", dilation=d, impl=impl)
                if backward:
                    y.float().sum().backward()
                    x.grad = w.grad = None

            steps[impl] = step
        # interleaved rounds: load from other programs falls on every implementation alike
        times = interleaved(steps, x.device, as_int(repeats, "repeats", 1))
        if d == 1:
            base = min(times["native"])
        assert base is not None
        for impl in impls:
            with torch.no_grad():
                out = conv(x, w, None, padding="same", dilation=d, impl=impl)
            err = float((out.float() - ref.float()).abs().max())
            chose = _impl.last_choice() if impl == "auto" else impl
            seconds = min(times[impl])
            rows.append(TaxRow(impl, d, det, seconds, seconds / base, err, chose))
    return rows
