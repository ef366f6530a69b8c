"""The training log, `metrics.jsonl`: one JSON record per line, appended whole.

Each record is written with a single `write` of a complete line, so a kill
leaves at most one torn last line; readers drop it with a warning instead of
failing, and a resume rewrites the log up to its checkpoint's step.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from igebm import io


def append_record(path: Path, record: dict[str, Any]) -> None:
    line = (json.dumps(record) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every whole record of a run's log; a torn or corrupt line is dropped with a warning."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    records, dropped = [], 0
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            dropped += 1
            continue
        if isinstance(rec, dict):
            records.append(rec)
        else:
            dropped += 1
    if dropped:
        warnings.warn(f"{path}: dropped {dropped} torn or corrupt line(s)", stacklevel=2)
    return records


def truncate_after(run_dir: Path, step: int) -> None:
    """Keep the records up to `step` (a resume continues from there)."""
    path = Path(run_dir) / "metrics.jsonl"
    if path.exists():
        kept = [r for r in read_metrics(run_dir) if int(r.get("step", 0)) <= step]
        io.write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
