"""matplotlib figures of the analyses: coverage, comparisons, gridding, RF boxes, ERF.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state,
nothing shown), in the look of :mod:`atrous.render.style`. matplotlib is imported when a function
runs, never when this module is imported. Save with :func:`save_figure` (atomic) or
``fig.savefig``. The figures only draw results computed elsewhere (a Coverage, a Report, the rows
of :func:`atrous.layer_gridding`, a ReceptiveField, an ERFResult, an array of counts, or these
results' JSON records, typed in :mod:`atrous.render._records`); none runs an analysis. Each
figure tells its inputs apart by their class (``isinstance``), never by the attributes they
happen to have, and refuses any other input with an :class:`~atrous.errors.AtrousError` naming
the parameter and what it takes.

    >>> import numpy as np
    >>> fig = coverage_figure(np.array([[1, 0, 1], [0, 4, 0], [1, 0, 1]]))
    >>> fig.axes[0].get_title().splitlines()[0]
    'coverage: RF 3x3, 4 holes (gridded), 56% covered'

The figures live in private parts by subject and are documented here: coverage, comparison and
per-layer gridding in :mod:`atrous.render._figures_coverage`, RF boxes and the effective RF in
:mod:`atrous.render._figures_rf`, what they share in :mod:`atrous.render._figures_base`; this
module adds the output functions.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from .._files import refuse_special
from ..errors import AtrousError
from ._figures_base import ANNOTATE_MAX as ANNOTATE_MAX
from ._figures_base import COMPARE_ANNOTATE_MAX as COMPARE_ANNOTATE_MAX
from ._figures_base import DRAW_MAX as DRAW_MAX
from ._figures_base import HATCH_MAX as HATCH_MAX
from ._figures_base import Figure, format_count
from ._figures_coverage import compare_figure, coverage_figure, gridding_strip
from ._figures_rf import erf_figure, rf_box_figure
from .style import style_context

__all__ = [
    "compare_figure",
    "coverage_figure",
    "erf_figure",
    "figure_png",
    "figure_svg",
    "format_count",
    "gridding_strip",
    "rf_box_figure",
    "save_figure",
    "write_atomic",
]

for _figure in (compare_figure, coverage_figure, erf_figure, format_count, gridding_strip,
                rf_box_figure):
    _figure.__module__ = __name__  # documented, imported and pickled as atrous.render.figures.X
del _figure


# -- output -----------------------------------------------------------------------------------
def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    with style_context():
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def figure_svg(fig: Figure) -> str:
    """The figure as an SVG document (text, fonts as text)."""
    buf = io.StringIO()
    with style_context():
        fig.savefig(buf, format="svg", bbox_inches="tight")
    return buf.getvalue()


def save_figure(fig: Figure | bytes, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Save ``fig`` to ``path`` atomically (temp file + rename); format from the suffix.

    ``fig`` may also be PNG bytes from :func:`figure_png` (written as they are). Returns the
    path written.
    """
    out = Path(path)
    fmt = out.suffix.lstrip(".").lower() or "png"
    if fmt not in ("png", "svg", "pdf", "jpg", "jpeg"):
        raise AtrousError(f"figure format must be .png, .svg, .pdf or .jpg, got {out.name!r}")
    data: bytes
    if isinstance(fig, bytes):
        data = fig  # already rendered (PNG bytes)
    elif fmt == "svg":
        data = figure_svg(fig).encode()
    else:
        buf = io.BytesIO()
        with style_context():
            fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
        data = buf.getvalue()
    write_atomic(out, data)
    return out


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    A reader never sees a half-written file, and a full disk leaves the old file as it was.
    A symbolic link is written through: its target is replaced and the link stays. A path that
    exists and is not a regular file (a character device such as ``/dev/null``, a FIFO, a socket)
    is refused: a rename would replace it with a regular file. A path that cannot be written
    raises :class:`AtrousError` naming ``path`` (not the temporary file) and the reason.

    Returns:
        ``path`` as a :class:`~pathlib.Path` (the link, where it was one).
    """
    given = Path(path)
    out = Path(os.path.realpath(given)) if given.is_symlink() else given
    refuse_special(given)
    raw = data.encode() if isinstance(data, str) else data
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise AtrousError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, out)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise AtrousError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        raise
    return given
