"""A form-compiler cache that survives killed compiles and concurrent cold starts.

FFCx (the form compiler under dolfinx) keeps compiled forms in ``$XDG_CACHE_HOME/fenics``
(default ``~/.cache/fenics``). It claims an entry by creating ``<module>.c`` and marks it
ready with ``<module>.c.cached``; a process that finds the ``.c`` but no ready mark waits
for it, 10 s by default, then fails. So a compile killed half-way (Ctrl-C, SIGKILL, a
SLURM time-out, the OOM killer) leaves a ``.c`` that makes every later run fail, and
processes that start together on a cold cache fail when one compile takes over 10 s.

:func:`install` wraps FFCx's cache lookup with a POSIX record lock per entry
(``<module>.lock``, ``fcntl.lockf``). The kernel drops the lock when its process dies,
so:

* whoever holds the lock is a live process compiling that entry; the others wait on the
  lock, exactly as long as the compile takes (up to :data:`ceiling_s`, for a compiler
  that hangs), then load the finished entry;
* a ``.c`` without its ready mark found while holding the lock was left by a compile that
  died: it is removed and compiled again. Two processes never compile one entry.

POSIX locks work on local disks and on NFS (v3 with lockd, v4); on a file system without
them (some Lustre mounts without ``flock``) the cache falls back to FFCx's own protocol
with a ``.c`` counted as stale once it is older than :data:`ceiling_s`.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import math
import os
import time
from pathlib import Path

from .errors import CaseError, RunFailure

log = logging.getLogger(__name__)

#: The environment variable that sets ceiling_s.
TIMEOUT_ENV = "ANODESIM_JIT_TIMEOUT_S"


def _ceiling_from_env() -> float:
    """ANODESIM_JIT_TIMEOUT_S (s; default 1800): a number above 0. "abc" was an internal
    error (ValueError of float()) when a run imported this module."""
    text = os.environ.get(TIMEOUT_ENV, "1800")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise CaseError(f"{TIMEOUT_ENV} = {text!r}: expected a time in s above 0 (the longest "
                        "wait for another process's compile of one form; default 1800)")
    return value


#: Longest wait (s) for another process's compile of one form (env ANODESIM_JIT_TIMEOUT_S).
ceiling_s = _ceiling_from_env()

_held: list[int] = []  # lock file descriptors held while this process compiles
_installed = False


class FormCompileError(RunFailure, RuntimeError):
    """The form compiler failed or its cache could not be used."""


def _entry_files(cache_dir: Path, module: str) -> list[Path]:
    """Files of one cache entry except its lock (``.c``, ready mark, object, library)."""
    return [p for p in cache_dir.glob(module + ".*") if p.suffix != ".lock"]


def _library(cache_dir: Path, module: str) -> Path | None:
    """The entry's compiled library, or None: a stat per extension suffix (in the order an
    import tries them), not a glob (listing a cache of thousands of entries cost 10 ms per
    form lookup)."""
    from importlib.machinery import EXTENSION_SUFFIXES

    for suffix in EXTENSION_SUFFIXES:
        if (path := cache_dir / (module + suffix)).exists():
            return path
    return None


def _load_ready(path: Path, module_name: str, object_names) -> tuple[list, object]:
    """A ready entry's compiled objects and module, as FFCx's get_cached_module returns
    them, loaded from its library's path. FFCx finds the library through an import finder
    whose cache it empties first, so every lookup listed the whole cache folder (3 200
    entries here: 1.5-3 ms a form, 20-40 forms a run, more as the cache grows)."""
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.ExtensionFileLoader(module_name, str(path))
    spec = importlib.util.spec_from_file_location(module_name, str(path), loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return [getattr(module.lib, name) for name in object_names], module


def _lock(path: Path) -> int | None:
    """Take the lock at path (waits while a live process holds it).

    Returns:
        The open descriptor holding the lock, or None when the file system has no locks.

    Raises:
        FormCompileError: another live process has held it for longer than ceiling_s.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:  # another user's lock in a shared cache: FFCx's protocol
        return None
    try:
        os.fchmod(fd, 0o666)  # a cache shared by a team: every user may lock it
    except OSError:
        pass
    deadline = time.monotonic() + ceiling_s
    pause = 0.005
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):  # ENOLCK, EOPNOTSUPP, ...
                os.close(fd)
                log.warning("no file locks in %s (%s): FFCx's own cache protocol is used",
                            path.parent, e.strerror)
                return None
        if time.monotonic() > deadline:
            os.close(fd)
            raise FormCompileError(
                f"form cache entry {path.with_suffix('')} has been compiled by another "
                f"process for over {ceiling_s:.0f} s; if that process hangs, end it "
                "(ANODESIM_JIT_TIMEOUT_S sets this limit)")
        time.sleep(pause)  # the lock has no wait-with-timeout; back off up to 0.2 s
        pause = min(2 * pause, 0.2)


def _release_from(n: int) -> None:
    while len(_held) > n:
        os.close(_held.pop())  # closing the descriptor drops the lock


def _guarded_lookup(original):
    def get_cached_module(module_name, object_names, cache_dir, timeout):
        cache_dir = Path(cache_dir)
        ready = cache_dir / f"{module_name}.c.cached"
        if ready.exists() and (library := _library(cache_dir, module_name)) is not None:
            return _load_ready(library, module_name, object_names)
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd = _lock(cache_dir / f"{module_name}.lock")
        if fd is None:
            c_file = cache_dir / f"{module_name}.c"
            if c_file.exists() and not ready.exists() and \
                    time.time() - c_file.stat().st_mtime > ceiling_s:
                c_file.unlink(missing_ok=True)
            return original(module_name, object_names, cache_dir, max(timeout, ceiling_s))
        try:
            library = _library(cache_dir, module_name) if ready.exists() else None
            if library is not None:  # compiled by another process while we waited
                compiled = _load_ready(library, module_name, object_names)
            else:
                stale = _entry_files(cache_dir, module_name)
                if stale:
                    # We hold the lock, so no live process is compiling this entry: these
                    # files are what a killed compile left (or a damaged entry). Compile it
                    # again.
                    log.warning("form cache: compiling again what a killed compile left: %s",
                                ", ".join(p.name for p in stale))
                    for p in stale:
                        p.unlink(missing_ok=True)
                compiled = original(module_name, object_names, cache_dir, timeout)
        except BaseException:
            os.close(fd)
            raise
        if compiled[0] is not None:
            os.close(fd)
        else:
            log.info("form cache: compiling %s (pid %d)", module_name, os.getpid())
            _held.append(fd)  # ours to compile: held until compile_* returns
        return compiled

    return get_cached_module


def _releasing(compile_function):
    def compile_with_lock(*args, **kwargs):
        n = len(_held)
        try:
            return compile_function(*args, **kwargs)
        except FormCompileError:
            raise
        except Exception as e:  # the C compiler, cffi or the cache: one message for all
            what = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            hint = ("a C compiler is needed (gcc; or set CC)" if "CompileError" in what or
                    "LinkError" in what else f"the form cache is in {cache_dir()}")
            raise FormCompileError(
                f"form compilation failed ({type(e).__name__}: {what}); {hint}") from e
        finally:
            _release_from(n)

    compile_with_lock.__wrapped__ = compile_function
    return compile_with_lock


def install() -> None:
    """Put the lock around FFCx's cache lookup and compile (idempotent)."""
    global _installed
    if _installed:
        return
    import ffcx.codegeneration.jit as jit

    jit.get_cached_module = _guarded_lookup(jit.get_cached_module)
    jit.compile_forms = _releasing(jit.compile_forms)
    jit.compile_expressions = _releasing(jit.compile_expressions)
    _installed = True


def cache_dir() -> Path:
    """Where compiled forms are kept ($XDG_CACHE_HOME/fenics, default ~/.cache/fenics)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fenics"
