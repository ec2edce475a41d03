"""Output-file safety shared by the renderers and the CLI (standard library only)."""

from __future__ import annotations

import os

from .errors import AtrousError

__all__ = ["refuse_special"]


def refuse_special(path: str | os.PathLike[str]) -> None:
    """Raise :class:`AtrousError` when ``path`` (followed through links) exists and is not a
    regular file or a folder: output goes only to regular files.

    >>> refuse_special("/dev/null")
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: cannot write '/dev/null': it is a character device, ...
    """
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # missing (it will be created) or unreadable (the write says why)
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    kind = ("a character device" if stat.S_ISCHR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a block device" if stat.S_ISBLK(mode)
            else "a special file")
    raise AtrousError(f"cannot write {str(path)!r}: it is {kind}, not a regular file")

