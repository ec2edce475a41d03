"""The one error hierarchy of atrous.

Every rejection of user input raises :class:`AtrousError` (a :class:`ValueError`) or a subclass,
with the offending value and the rule it broke in the message::

    >>> from atrous import Conv
    >>> Conv(3, dilation=0, ndim=2)
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: dilation must be >= 1, got 0
"""

from __future__ import annotations

__all__ = ["AtrousError", "CoverageUnavailable", "SpecError", "TooLargeError", "excerpt",
           "printable"]


class AtrousError(ValueError):
    """Bad input to atrous: the message names the value and the rule it broke."""


class SpecError(AtrousError):
    """A layer-spec string could not be parsed.

    Attributes:
        text: the whole spec string.
        position: index of the offending character in ``text``.
    """

    def __init__(self, message: str, text: str = "", position: int = 0) -> None:
        self.text = text
        self.position = position
        if text:
            shown, caret = excerpt(text, position)
            message = f"{message}\n  {shown}\n  {' ' * caret}^"
        super().__init__(message)


def printable(text: str, keep: str = "") -> str:
    r"""``text`` with control and format characters shown as Python escapes.

    ANSI/OSC escapes, newlines, tabs, NUL, DEL, C1 controls, bidi overrides and zero-width
    characters come out as ``\x1b``, ``\n``, ``\u202e``..., so a name printed on a terminal
    cannot move the cursor, recolour the text, reorder it or forge table rows. The one escaping
    of names for text output (the CLI, :mod:`atrous.render.text`, the HTML page, figure labels);
    JSON keeps names as they are.

    >>> printable("conv\x1b[31mred\nrow\u202e")
    'conv\\x1b[31mred\\nrow\\u202e'
    >>> printable("layer4.0 😀")
    'layer4.0 😀'

    ``keep``: characters left as they are (the HTML page keeps line breaks and tabs).

    >>> printable("a\tb\u202e", keep="\t\n\r")
    'a\tb\\u202e'
    """
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or ch in keep  # str.isprintable: False for every Cc, Cf char
        else repr(ch)[1:-1] if ch in "\t\n\r" else ascii(ch)[1:-1]
        for ch in text
    )


def excerpt(text: str, position: int, width: int = 76) -> tuple[str, int]:
    r"""A one-line window of ``text`` around ``position`` and the caret's column in it.

    Unprintable characters (newlines, terminal escapes, bidi marks) are shown escaped, and a
    long text is cut to about ``width`` characters with ``...`` marking the cuts.

    >>> excerpt("3x3 d2,\n3x3 q7", 12)
    ('3x3 d2,\\n3x3 q7', 13)
    """
    position = max(0, min(position, len(text)))
    lo = max(0, position - width // 2)
    hi = min(len(text), lo + width)
    lo = max(0, min(lo, hi - width))
    before = ("..." if lo > 0 else "") + printable(text[lo:position])
    after = printable(text[position:hi]) + ("..." if hi < len(text) else "")
    return before + after, len(before)


class TooLargeError(AtrousError):
    """A requested result would not fit in memory; the message says how large it would be."""


class CoverageUnavailable(AtrousError):
    """Coverage cannot be computed for this target; ``node`` names the layer that stopped it.

    Attributes:
        node: name of the graph node that could not be analysed.
        reason: why, in words.
    """

    def __init__(self, node: str, reason: str) -> None:
        self.node = node
        self.reason = reason
        super().__init__(f"coverage is unavailable at node {node!r}: {reason}")
