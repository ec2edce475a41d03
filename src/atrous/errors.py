"""The one error hierarchy of atrous.

Every rejection of user input raises :class:`AtrousError` (a :class:`ValueError`) or a subclass,
with the offending value and the rule it broke in the message::

    >>> from atrous import conv_output_size
    >>> conv_output_size(4, kernel=3, dilation=3)
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: output size would be 0 (< 1): input 4 + padding 0 is smaller than the effective kernel 7 = 3*(3-1)+1 (axis 0)
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
