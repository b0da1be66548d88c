"""A persistent cache of the electron kernel's lateral fits, so that a run neither fits nor
imports scipy.optimize once the fits of its tables are known.

The two-Gaussian fit of one depth bin (:func:`anodesim.kernel_source._fit_two_gaussians`,
scipy.optimize.least_squares, about 15 ms each, 30-40 per beam, plus 0.7 s to import
scipy.optimize) is a pure function of the bin's energy row and the radial bin edges. The
cache is keyed by the SHA-256 of exactly those inputs (their bytes), together with a digest
of the fitting code itself (its byte code and constants) and of the numpy and scipy
versions. So:

* a regenerated table (data/electron_kernels.npz) changes the rows, hence the keys: the
  new rows are fitted and stored, nothing stale is ever returned; no hand-copied result;
* an edited fit function or another scipy / numpy changes the code digest: every fit is
  done again;
* a hit returns the stored float64 values exactly (JSON keeps a float's shortest repr,
  which reads back to the same double): bit-identical to the fit that stored it.

Where: ``$XDG_CACHE_HOME/anodesim/kernel_fits.json`` (default ``~/.cache``), beside the
form compiler's cache; ``ANODESIM_FIT_CACHE`` names another file, or ``off`` disables it.
Written atomically (a temporary file renamed over it); two processes storing at once may
lose each other's new entries, which are then fitted again next time. An unreadable or
damaged file is ignored, an unwritable folder only costs the fits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from importlib.util import find_spec
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_memory: dict[str, list[float]] | None = None  # the file's entries, read once per process
_new: dict[str, list[float]] = {}  # fitted in this process, not yet written


def path() -> Path | None:
    """The cache file, or None when disabled (ANODESIM_FIT_CACHE=off)."""
    given = os.environ.get("ANODESIM_FIT_CACHE")
    if given:
        return None if given.lower() == "off" else Path(given)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "anodesim" / "kernel_fits.json"


def _code_digest(code) -> bytes:
    """The byte code and constants of a function's code object, nested functions included
    (not its file name or line numbers: moving the function does not invalidate)."""
    h = hashlib.sha256(code.co_code)
    for c in code.co_consts:
        h.update(_code_digest(c) if hasattr(c, "co_code") else repr(c).encode())
    return h.digest()


#: Stands for the numpy and scipy versions in the keys when set (bytes): fits recorded
#: once (the golden records' pinned fits, tests/golden/kernel_fits.json) are then found
#: under any numpy or scipy. None (the default): the installed versions.
versions_override: bytes | None = None


def _versions() -> bytes:
    """numpy's version and scipy's version file, read without importing scipy (or
    versions_override)."""
    if versions_override is not None:
        return versions_override
    spec = find_spec("scipy")
    scipy_version = b""
    if spec is not None and spec.submodule_search_locations:
        f = Path(next(iter(spec.submodule_search_locations))) / "version.py"
        scipy_version = f.read_bytes() if f.exists() else b""
    return np.__version__.encode() + scipy_version


def key(fit, *arrays: np.ndarray) -> str:
    """The cache key of fit(*arrays): their dtypes, shapes and bytes, the fit's code and the
    library versions."""
    h = hashlib.sha256(_code_digest(fit.__code__) + _versions())
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _entries() -> dict[str, list[float]]:
    global _memory
    if _memory is None:
        p = path()
        try:
            _memory = json.loads(p.read_text()) if p is not None and p.exists() else {}
            if not isinstance(_memory, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:
            log.warning("kernel fit cache %s unreadable (%s): fitting again", p, e)
            _memory = {}
    return _memory


def cached(fit, *arrays: np.ndarray) -> tuple[float, ...]:
    """fit(*arrays) (a tuple of floats), from the cache when it holds that fit."""
    k = key(fit, *arrays)
    hit = _entries().get(k)
    if isinstance(hit, list) and all(isinstance(v, float) for v in hit):
        return tuple(hit)
    value = tuple(float(v) for v in fit(*arrays))
    _memory[k] = _new[k] = list(value)
    return value


def flush() -> None:
    """Write this process's new fits into the file (merged with what is there now)."""
    p = path()
    if not _new or p is None:
        _new.clear()
        return
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        try:
            on_disk = json.loads(p.read_text()) if p.exists() else {}
            on_disk = on_disk if isinstance(on_disk, dict) else {}
        except (OSError, ValueError):
            on_disk = {}
        on_disk.update(_new)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=p.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(on_disk, f)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        log.info("kernel fit cache %s not written (%s)", p, e)
    _new.clear()


def clear_memory() -> None:
    """Forget what was read (the next lookup reads the file again); for tests."""
    global _memory
    _memory = None
    _new.clear()
