"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """Return this process's peak resident memory (MB): VmHWM, which starts afresh at exec
    (ru_maxrss would inherit the parent's peak across fork+exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
