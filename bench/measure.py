"""Small measuring helpers shared by the benchmarks: summaries of repeated runs, and RSS."""

from __future__ import annotations

import resource
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

MIB = 1024 * 1024
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def summary(times: Sequence[float]) -> dict[str, float | int]:
    """Best (the least disturbed run), median and worst of repeated timings, in seconds."""
    return {
        "best": min(times),
        "median": statistics.median(times),
        "worst": max(times),
        "runs": len(times),
    }


def rounded(value: float, digits: int = 4) -> float:
    """Enough digits for a benchmark line, without float noise."""
    return float(f"{value:.{digits}g}")


def _status_kib(field: str) -> int | None:
    """A `VmRSS:`/`VmHWM:` line of /proc/self/status in KiB, or None off Linux."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_bytes() -> int | None:
    """The resident set size of this process now."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib * 1024


def reset_peak_rss() -> bool:
    """Reset the peak RSS (VmHWM) to the current RSS, so a later `peak_rss_bytes` is the
    high-water mark of what runs in between (Linux; writing 5 to clear_refs does this)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int | None:
    """The peak RSS since the start, or since `reset_peak_rss`."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024
