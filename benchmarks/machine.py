"""What every benchmark prints about the machine it ran on."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

# The broker's per-user limits (docs/security.md) turned off: a benchmark is one planner asking at
# machine speed, as an aggregator would (whose account an admin exempts from them)
NO_USER_LIMITS: dict[str, Any] = {
    "limit_open_offers": 0,
    "limit_sessions": 0,
    "limit_core_hours": 0,
    "limit_requests_per_minute": 0,
    "limit_snapshot_bytes": 0,
}


def machine() -> dict[str, Any]:
    """Cores, the CPU model (from /proc/cpuinfo where there is one) and the Python version."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu or platform.processor(), "python": platform.python_version()}


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of process ``pid`` (all its threads) so far, from Linux's /proc; None
    when there is no such process (or no /proc)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
