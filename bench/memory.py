"""Peak resident memory of this process, as the kernel counts it since the last exec."""

from __future__ import annotations

import resource


def peak_rss_mb() -> float:
    """VmHWM from /proc (reset by exec), or getrusage where /proc is missing.

    ``getrusage(RUSAGE_SELF).ru_maxrss`` is not used on Linux: it survives fork and exec, so
    a worker started by a parent that used 400 MB would report 400 MB whatever it did itself.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
