"""One writer per run: an exclusive lock on `RUN_DIR/.lock`, naming the holder's pid.

The lock is an `flock` on the file, so the kernel releases it when its holder dies, even by
SIGKILL: a stale `.lock` file never blocks a resume. The file itself is left in place (removing
it would let two processes lock two different files of the same name). On platforms without
`fcntl` no lock is taken.
"""

from __future__ import annotations

import os
from pathlib import Path

from igebm.errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

LOCK_NAME = ".lock"


class RunLock:
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "RunLock":
        if self._fd is not None or fcntl is None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise UserError(f"run directory '{self.path.parent}' is in use by another igebm process (pid {holder}): "
                            "one writer per run; wait for it to finish or stop it, then --resume") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)  # closing drops the flock

    def __del__(self):
        self.release()
