"""How many CPU threads a run may use: the usable cores (affinity and cgroup quota), never more.

torch's default intra-op pool is one thread per *logical CPU of the machine*, whatever the
affinity mask or container quota allows. With another CPU-bound process on the same cores,
the pool's threads wait at every parallel region for a thread the OS has descheduled, and
training falls off a cliff (measured 25x slower on 2 cores; benchmarks/contention.py). So:
- `usable_cores()`: the affinity mask, capped by a cgroup v2 `cpu.max` or v1 `cfs_quota_us`;
- `free_cores()`: the usable cores not already busy, from two /proc/stat readings;
- `auto_threads()`: run.threads = 0 means the free cores (at least 1) of the usable ones.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_quota(root: Path = CGROUP_ROOT) -> float | None:
    """The container's CPU quota in cores (e.g. 1.5), or None when unlimited or unknown."""
    try:  # cgroup v2: "max 100000" or "150000 100000"
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    for sub in ("cpu", "cpu,cpuacct", "cpuacct,cpu", "."):  # cgroup v1
        try:
            quota = int((root / sub / "cpu.cfs_quota_us").read_text())
            period = int((root / sub / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return None if quota <= 0 or period <= 0 else quota / period
    return None


def usable_cores(root: Path = CGROUP_ROOT) -> int:
    """Cores this process may run on: its affinity mask, capped by the cgroup quota (rounded down, at least 1)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cgroup_quota(root)
    if quota is not None:
        n = min(n, max(1, math.floor(quota + 1e-9)))
    return max(1, n)


def _cpu_times() -> tuple[int, int] | None:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    vals = [int(v) for v in fields]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    return sum(vals[:8]), idle


def busy_cores(window: float = 0.25) -> float:
    """How many of the machine's cores other work keeps busy now (0 when unknown)."""
    a = _cpu_times()
    time.sleep(window)
    b = _cpu_times()
    if a is None or b is None or b[0] <= a[0]:
        return 0.0
    busy_frac = 1.0 - (b[1] - a[1]) / (b[0] - a[0])
    return max(0.0, busy_frac * (os.cpu_count() or 1))


def auto_threads(root: Path = CGROUP_ROOT, busy: float | None = None) -> int:
    """run.threads = 0: the usable cores that are free now (at least 1), so a run never oversubscribes."""
    n = usable_cores(root)
    busy = busy_cores() if busy is None else busy
    return max(1, min(n, n - int(round(busy))))


def apply_threads(threads: int) -> None:
    """Set torch's intra-op threads, and inter-op threads to match once (torch allows it only before use)."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    try:
        if torch.get_num_interop_threads() > threads:
            torch.set_num_interop_threads(threads)
    except RuntimeError:  # inter-op work already started in this process: it keeps its pool
        pass
