"""The one top-level handler of the `igebm` command: every failure becomes one line on stderr.

- `UserError` (a mistake the user can fix): its message, exit 2 (3 for a `TrainingFault`).
- An operational `OSError` (no space, permission denied, a file where a folder is expected, ...):
  one line naming the path and what to do, exit 2.
- `MemoryError`: one line, exit 2 (ask for less).
- Warnings (a torn log line, a resume that will not be bit-exact) are one line each.
- Anything else is a bug: its traceback, then a line that says so, exit 1.
"""

from __future__ import annotations

import errno
import sys
import traceback
import warnings
from typing import Callable

from igebm.errors import UserError

EXIT_USER, EXIT_BUG = 2, 1

_HINTS = {
    errno.ENOSPC: "free some disk space or choose another --out; the last checkpoint is kept",
    errno.EDQUOT: "free some disk space or choose another --out; the last checkpoint is kept",
    errno.EACCES: "check the permissions of the file and its folder",
    errno.EPERM: "check the permissions of the file and its folder",
    errno.EROFS: "the file system is read-only; choose another --out",
    errno.EISDIR: "a folder is in the way: give a file name",
    errno.ENOTDIR: "a file is where a folder is expected: choose another path",
    errno.EEXIST: "something is in the way: choose another path",
    errno.ENOENT: "check the path",
    errno.EIO: "the disk reported an I/O error",
}


def describe_os_error(exc: OSError) -> str:
    """One line: the path, what went wrong, what to do."""
    what = exc.strerror or str(exc) or type(exc).__name__
    path = exc.filename
    where = f"'{path}'" + (f" -> '{exc.filename2}'" if exc.filename2 else "") if path else ""
    hint = _HINTS.get(exc.errno or -1, "")
    return f"{where + ': ' if where else ''}{what}" + (f" ({hint})" if hint else "")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def run_command(name: str, func: Callable[[], object]) -> int:
    """Run one command; return its exit code. Never lets a user mistake end in a traceback."""
    prog = f"igebm {name}"

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {_one_line(message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        try:
            func()
        except UserError as exc:
            if not getattr(exc, "already_reported", False):  # e.g. another rank printed it
                print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print(f"{prog}: interrupted; the last checkpoint is kept (resume with --resume)", file=sys.stderr)
            return 130
        except OSError as exc:
            print(f"{prog}: error: {_one_line(describe_os_error(exc))}", file=sys.stderr)
            return EXIT_USER
        except MemoryError:
            print(f"{prog}: error: out of memory; ask for less (a smaller --num or batch)", file=sys.stderr)
            return EXIT_USER
        except Exception as exc:  # noqa: BLE001 - the one place a bug is reported
            traceback.print_exc()
            print(f"{prog}: internal error ({type(exc).__name__}): this is a bug in igebm, not your input; "
                  "please report it with the traceback above", file=sys.stderr)
            return EXIT_BUG
    return 0
