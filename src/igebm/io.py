"""The one way this project writes a file: to a unique temporary name, then renamed.

A reader (or a crash) sees either the old file or the new one, never half of
one. The temporary name carries the process id and a counter, so two writers
never share it. Every file the project writes goes through `atomic_path`.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

_counter = itertools.count()


def temp_name(path: Path) -> Path:
    """A hidden sibling of `path`, unique to this process and call, same suffix."""
    return path.with_name(f".{path.stem}.{os.getpid()}.{next(_counter)}.tmp{path.suffix}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename is None or str(exc.filename) == str(tmp):  # name the file the user asked for
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, data: Any, indent: int = 2) -> Path:
    return write_text(path, json.dumps(data, indent=indent) + "\n")


def write_npz(path: str | Path, **arrays) -> Path:
    import numpy as np

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object keeps numpy from appending its own .npz
            np.savez_compressed(f, **arrays)
    return Path(path)


def write_safetensors(path: str | Path, tensors: dict) -> Path:
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        try:
            save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
        except SafetensorError as exc:  # an I/O failure (a full disk) comes back as this; make it an OSError
            code = re.search(r"(?:code: |os error )(\d+)", str(exc))
            err = int(code.group(1)) if code else errno.EIO
            raise OSError(err, os.strerror(err), str(path)) from exc
    return Path(path)
