"""The text a run that failed shows (its ``parameters.extra_text``), in Canvas's wording.

Canvas says ``Failed, please report the following error code to your system administrator:
ErrorReport:<id>`` for every unexpected failure. When the cause is one an administrator can act
on without reading logs (the disk or the quota is full), the text names it first, in the
operating system's own words, and keeps Canvas's error code.
"""

from __future__ import annotations

import errno

# errno values whose cause an administrator can act on, with the OS's own wording.
_NAMED = {
    errno.ENOSPC: "No space left on device",
    errno.EDQUOT: "Disk quota exceeded",
}


def named_cause(exc: BaseException | None) -> str | None:
    """ "No space left on device" when ``exc`` or what caused it is a full disk, else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _NAMED:
            return _NAMED[exc.errno]
        exc = exc.__cause__ or exc.__context__
    return None


def failure_text(run_id: int, exc: BaseException | None = None) -> str:
    """``Failed, please report ... ErrorReport:<id>;``, with a full disk named first."""
    code = f"ErrorReport:{run_id};"
    cause = named_cause(exc)
    if cause is not None:
        return (
            f"Failed, the report file could not be written: {cause}. Please report the "
            f"following error code to your system administrator: {code}"
        )
    return f"Failed, please report the following error code to your system administrator: {code}"
