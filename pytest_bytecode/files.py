"""Atomic file writes, shared by data files, reports, baselines, snapshots and
the instrumentation cache.

A reader never sees a half-written file: the bytes go to a temporary file in
the same folder, which is then renamed over the target.  ``mkstemp`` creates
files readable by their owner only; the result gets the usual permissions
(0666 less the umask), since data files, reports and snapshots are shared.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
