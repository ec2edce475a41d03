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

__all__ = ["AtrousError", "SpecError", "TooLargeError"]


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
            caret = " " * position + "^"
            message = f"{message}\n  {text}\n  {caret}"
        super().__init__(message)


class TooLargeError(AtrousError):
    """A requested result would not fit in memory; the message says how large it would be."""
