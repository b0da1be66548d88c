"""A rating's full FE runs kept on disk as each finishes, so that a rating killed or crashed
part way (SIGTERM, SIGKILL, Ctrl-C, the out-of-memory killer, a batch system's time limit)
resumes where it stopped when the same command is run again.

The runs are kept in a hidden folder of the rating's output folder,
``<out>/.anodesim-rating-checkpoint/<identity>/``, one file per run (``<key digest>.npz``,
written atomically: a temporary file renamed). The identity is a digest of everything a
run's numbers depend on besides its own case: the package's code (a digest of its files,
not only its version), the versions of its numerical stack, PETSC_OPTIONS, the number of
MPI ranks, and the files the case reads (a mesh, a STEP file). Each run's key is the case
it runs (``Case.hash``: the rated case with that run's loading and beam power) and, for a
chart anchor started from a steady state, that state's power and the checked times. An
entry is taken only when its identity folder, its file name and the key stored inside it
all match; one that cannot be read is ignored (the run is made again), never a number
guessed. Entries of another identity (another case, another version) are not taken, but
kept (a rating of another case started into the folder by mistake and stopped leaves the
interrupted one resumable); the whole folder is removed once a rating is published there
(rate.publish).

Only the entries present when the rating starts are taken (those of the interrupted one):
an uninterrupted rating runs and reports exactly as without a checkpoint. A run's results
depend on its key alone (safe._EARLIER_RUNS already relies on that within a process), so
a resumed rating gives the same numbers as an uninterrupted one, bit for bit.

Under MPI every rank computes the rating: rank 0 lists, reads and writes the files and
broadcasts what it found, so that all ranks take the same runs from it.
"""

from __future__ import annotations

import dataclasses as dc
import hashlib
import io
import json
import os
import re
import shutil
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np

from ..errors import CaseError

#: The hidden folder of a rating's output folder that keeps its finished FE runs.
FOLDER = ".anodesim-rating-checkpoint"

#: The names of an identity's folder, an entry, and atomic_write's temporary file of one:
#: nothing else in the checkpoint folder is taken or removed.
_IDENTITY = re.compile(r"[0-9a-f]{24}")
_ENTRY = re.compile(r"[0-9a-f]{32}\.npz")
_TEMPORARY = re.compile(r"\.[0-9a-f]{32}\.npz\..+")

#: The running rating's store (None: no checkpoint).
_state: dict = {"store": None}


def code_digest() -> str:
    """SHA-256 of the package's files (its code and data, not their compiled caches): a
    changed source file changes it, whatever the version says."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()
                       and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def identity(case, ranks: int) -> str:
    """The digest that every entry of a rating of this case must carry (module docstring)."""
    from .. import __version__
    from ..output import provenance

    # summary.json's versions: the distributions' and, where their metadata is missing (a
    # conda or spack install, the PETSc inside a wheel), dolfinx's and PETSc's own
    made = provenance(ranks)
    versions = {"python": made["python"], **made["versions"]}
    files = {}
    for name in (case.geometry.file, case.mesh.file):
        if name:  # the case hashes the path, not what the file holds
            try:
                files[name] = hashlib.sha256(Path(name).read_bytes()).hexdigest()
            except OSError:
                files[name] = None
    blob = json.dumps({"anodesim": __version__, "code": code_digest(), "stack": versions,
                       "PETSC_OPTIONS": os.environ.get("PETSC_OPTIONS", ""), "ranks": ranks,
                       "case": case.hash(), "files": files}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class Store:
    """The checkpoint of one rating: the entries found when it started, and new ones.

    Attributes:
        folder: <out>/FOLDER/<identity>.
        found: key digests of the entries present when the rating started (every rank).
        taken: how many of them the rating has taken so far.
        unreadable: how many it could not read (made again).
    """

    def __init__(self, out: Path, ident: str, comm, progress, fresh: bool = False):
        self.root = Path(out) / FOLDER
        self.folder = self.root / ident
        self.comm, self.lead = comm, comm.rank == 0
        self.progress = progress
        self.writable = True
        self.taken = self.unreadable = 0
        self.seconds = None  # the wall time (s) of the run recall took last, if kept
        self.made_out = not self.root.parent.exists()
        found, stale = [], False
        if self.lead:
            try:
                found, stale = self._look(ident, fresh)
            except OSError as e:  # a folder that cannot be read: every run made again
                progress(f"  checkpoint: cannot read {self.root} ({e}); not resumed")
                found = []
        if comm.size > 1:
            found, stale = comm.bcast((found, stale), root=0)
        self.found = set(found)
        if stale:
            progress(f"  checkpoint: an interrupted rating of another case or anodesim "
                     f"version in {self.root} is not taken (kept until a rating is "
                     "published here)")
        if self.found:
            progress(f"  resuming: {len(self.found)} FE run{'s' * (len(self.found) != 1)} "
                     f"from an interrupted rating ({self.folder}; --fresh starts afresh)")

    def _look(self, ident: str, fresh: bool) -> tuple[list[str], bool]:
        """Rank 0: (the key digests of this identity's entries, whether another identity's
        are there), the whole checkpoint removed first when fresh; a write's temporary
        file left by a kill is removed."""
        found, stale = [], False
        if fresh:  # none taken, also where the removal fails (permissions, a symlink)
            shutil.rmtree(self.root, ignore_errors=True)
            return found, stale
        if not self.root.is_dir():
            return found, stale
        # another case, version or stack: never taken (only this module's folders count:
        # the folder may be a symlink to a scratch disk holding other files)
        stale = any(e.name != ident and _IDENTITY.fullmatch(e.name)
                    for e in self.root.iterdir())
        if self.folder.is_dir():
            for p in self.folder.iterdir():
                if _ENTRY.fullmatch(p.name):
                    found.append(p.stem)
                elif _TEMPORARY.fullmatch(p.name):  # a write the kill interrupted
                    _remove(p)
        return found, stale

    def abandon(self) -> None:
        """Remove this rating's entries (bad input: the same case can never use them), the
        checkpoint folder if that leaves it empty, and out too if the rating made that
        folder and left it empty (nothing written); another identity's entries stay."""
        if self.lead:
            _remove(self.folder)
            with suppress(OSError):  # not empty, or a symlink: left
                self.root.rmdir()
            # (out never made: bad input found before the first run raised FileNotFoundError
            # from here instead of its CaseError, in anodesim.rate)
            if self.made_out and self.root.parent.is_dir() and \
                    not any(self.root.parent.iterdir()):
                self.root.parent.rmdir()

    def recall(self, key: tuple):
        """(True, value) of the entry under key found when the rating started, else
        (False, None); an entry that cannot be read, or holds another key, counts as
        absent."""
        text, digest = _key_text(key)
        if digest not in self.found:
            return False, None
        data = None
        if self.lead:
            try:
                data = (self.folder / f"{digest}.npz").read_bytes()
            except OSError:
                data = None
        if self.comm.size > 1:
            data = self.comm.bcast(data, root=0)
        try:
            value, self.seconds = _decode(data, text)
        except Exception:  # corrupt, truncated, or not ours: the run is made again
            self.found.discard(digest)
            self.unreadable += 1
            return False, None
        self.taken += 1
        return True, value

    def keep(self, key: tuple, value, seconds: float | None = None) -> None:
        """Write a finished run's value (a TimeSeries, a dict, or None for a failed run)
        and the wall time it took (s; None: not kept) atomically (rank 0); a write that
        fails says so once and ends the keeping, not the rating."""
        from ..errors import signals_held
        from ..output import atomic_write

        if not (self.lead and self.writable):
            return
        text, digest = _key_text(key)
        try:
            with signals_held():  # the finished run's entry whole, then a Ctrl-C or SIGTERM
                self.folder.mkdir(parents=True, exist_ok=True)
                atomic_write(self.folder / f"{digest}.npz", _encode(text, value, seconds))
        except (OSError, TypeError, ValueError) as e:  # a full disk; a value not kept
            self.writable = False
            self.progress(f"  checkpoint: cannot write {self.folder} ({e}); a kill from here "
                          "on loses the runs that follow")


def run_case(sim, loading, beam_power_W: float):
    """The case that sim.run(loading, beam_power_W) runs (Simulation.reset's): what its
    results depend on: the key of its checkpoint entry (its hash)."""
    return dc.replace(sim.case, loading=loading,
                      beam=dc.replace(sim.case.beam, power_W=beam_power_W))


def materials_of(sim) -> dict:
    """sim's materials per region (its prepare's: region_materials), also before its first
    run, when every run so far was taken from a rating's checkpoint."""
    if sim.prep is not None:
        return sim.prep.mats
    from ..resolve import region_materials

    return region_materials(sim.case)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def discard(out: Path) -> None:
    """Remove the checkpoint of out (the rating is published, or refused as bad input)."""
    shutil.rmtree(Path(out) / FOLDER, ignore_errors=True)


@contextmanager
def checkpointing(out: Path | None, case, progress, fresh: bool = False):
    """Keep the FE runs made inside this block in out's checkpoint, and take those of an
    interrupted rating of the same case from it (out None: neither)."""
    before = _state["store"]
    store = None
    if out is not None:
        from .._mpi import MPI

        comm = MPI.COMM_WORLD
        store = Store(Path(out), identity(case, comm.size), comm, progress, fresh)
        from . import helper

        helper.leave_to_rating(store.found)  # taken from here: not the helper's to make
    _state["store"] = store
    try:
        yield store
    except CaseError:  # bad input found while rating (a pre-load the anode cannot hold)
        if store is not None:
            store.abandon()
        raise
    finally:
        _state["store"] = before


def recall(key: tuple, what: str, power_W: float):
    """The running rating's checkpoint entry under key, (True, value), said as taken from
    the interrupted rating; else (False, None)."""
    store = _state["store"]
    if store is None:
        return False, None
    unreadable = store.unreadable
    found, value = store.recall(key)
    if found:
        from . import helper

        helper.measured(store.seconds)  # (what a wait for the helper is bounded by)
        store.progress(f"    {what} at {power_W:.4g} W: from the interrupted rating, not run "
                       "again")
    elif store.unreadable > unreadable:
        store.progress(f"    {what} at {power_W:.4g} W: the interrupted rating's entry cannot "
                       "be read; run again")
    return found, value


def run_kept(key: tuple, what: str, power_W: float, make):
    """An FE run's time series: the interrupted rating's under key (recall), else make()'s,
    reported as one FE run of what (words) at power_W (W) and kept under key before its
    line is printed; None for a run that fails (far over). A run that melts the target
    (physics) is kept as failed; one whose solver failed (out of memory in a factorisation
    too) is not, so that a resumed rating tries it again."""
    from ..materials import OutOfRangeError
    from ..thermal import SolverError
    from . import helper
    from .progress import fe_run

    text, digest = _key_text(key)
    if helper.serving():  # the helper makes it for the rating, which keeps and reports it
        return helper.make_here(text, digest, make)
    found, series = recall(key, what, power_W)
    if found:
        return series
    ahead = helper.take(text, digest)  # made by the rating's helper (helper.py)
    took = None
    if ahead is not None:
        outcome, took = ahead

        def make():
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
    start = time.perf_counter()
    try:
        with fe_run(what, power_W, took):
            series = make()
            if took is None:
                took = time.perf_counter() - start
                helper.measured(took)
            keep(key, series, took)
    except (OutOfRangeError, SolverError) as e:  # far over: the target melts at this power
        series = None
        if isinstance(e, OutOfRangeError):
            keep(key, series)
    return series


def keep(key: tuple, value, seconds: float | None = None) -> None:
    """Keep a finished run's value (and wall time, s) in the running rating's checkpoint
    (if any)."""
    if _state["store"] is not None:
        _state["store"].keep(key, value, seconds)


def _key_text(key: tuple) -> tuple[str, str]:
    """A key as text (repr: floats exactly) and its file name's digest."""
    text = repr(key)
    return text, hashlib.sha256(text.encode()).hexdigest()[:32]


def _plain(x):
    """A numpy scalar as the Python one (JSON)."""
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"{type(x).__name__} in a checkpoint entry")


def _encode(key: str, value, seconds: float | None = None) -> bytes:
    from ..results import TimeSeries

    if value is None:
        arrays = {"failed": np.array(True)}
    elif isinstance(value, TimeSeries):
        names = value.names
        arrays = {"series": np.array(json.dumps({"names": names,
                                                 "units": [value.units[n] for n in names]})),
                  "data": np.column_stack([value[n] for n in names]) if names
                  else np.zeros((0, 0))}
    else:
        arrays = {"json": np.array(json.dumps(value, default=_plain))}
    if seconds is not None:
        arrays["seconds"] = np.array(float(seconds))
    buf = io.BytesIO()
    np.savez_compressed(buf, key=np.array(key), **arrays)
    return buf.getvalue()


def _decode(data: bytes | None, key: str) -> tuple:
    """An entry's value and the wall time (s) its run took (None where not kept: a failed
    run); raises on anything unexpected (absent, corrupt, another key)."""
    from ..results import TimeSeries

    if data is None:
        raise ValueError("no entry")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        if str(z["key"]) != key:
            raise ValueError("another key")
        seconds = float(z["seconds"]) if "seconds" in z.files else None
        if "failed" in z.files:
            return None, seconds
        if "series" in z.files:
            meta = json.loads(str(z["series"]))
            data = np.asarray(z["data"], dtype=float)
            if data.ndim != 2 or data.shape[1] != len(meta["names"]):
                raise ValueError("columns")
            return TimeSeries(meta["names"], meta["units"], data), seconds
        return json.loads(str(z["json"])), seconds
