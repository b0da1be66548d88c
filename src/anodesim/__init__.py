"""anodesim: transient heat, focal-spot drift and ratings of X-ray tube anodes.

The case layer (``anodesim.case``, ``anodesim.materials``) imports no dolfinx, so a bad case
fails fast; the finite-element stages import dolfinx when they run.
"""

__all__ = ["Case", "CaseError", "RunFailure", "Simulation", "from_dict", "load", "rate", "run",
           "sweep", "__version__"]

#: Imported on first use (PEP 562), so that ``anodesim --help`` loads neither numpy nor the
#: case layer: name -> (module, attribute).
_LAZY = {"Case": (".case", "Case"), "CaseError": (".case", "CaseError"),
         "RunFailure": (".errors", "RunFailure"),  # a run that cannot finish (exit status 1)
         "from_dict": (".case", "from_dict"), "load": (".case", "load"),
         "Simulation": (".simulation", "Simulation")}  # Simulation brings MPI (not dolfinx)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("anodesim")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def __getattr__(name):
    if name == "__version__":
        globals()["__version__"] = v = _version()
        return v
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module, __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'anodesim' has no attribute {name!r}")


def _as_case(case):
    """A Case from a Case, a dict (units in the key names) or a TOML file path."""
    import os

    from .case import Case, CaseError, check_source, from_dict, load

    if isinstance(case, dict):
        return from_dict(case)
    if isinstance(case, (str, os.PathLike)):
        return load(case)
    if not isinstance(case, Case):  # not for pathlib to refuse, naming no argument
        raise CaseError(f"case = {_shown(case)}: expected an anodesim.Case, a dict of the "
                        "case file's tables or the path of a case file")
    check_source(case)  # an edit of case.source would not be run
    return case


def _file_of(given):
    """The path of a case or study given as a file name (str or any os.PathLike, as
    _as_case reads it), else None (a dict or Case). A path-like other than str and Path was
    read as the case but not known as its file: its text was not kept as case.toml, and
    the file was not protected when its folder's earlier results were replaced."""
    import os
    from pathlib import Path

    return Path(os.fsdecode(os.fspath(given))) if isinstance(given, (str, os.PathLike)) \
        else None  # (fsdecode: a path-like may give bytes)


def _check_out_dir(out_dir) -> None:
    """CaseError unless out_dir is a folder's name (str, Path) or None: pathlib's TypeError
    named no argument; "" (an unset variable) was the current folder."""
    import os

    if out_dir is not None and not isinstance(out_dir, (str, os.PathLike)):
        from .case import CaseError

        raise CaseError(f"out_dir = {_shown(out_dir)}: expected a folder (a str or a "
                        "pathlib.Path) or None")
    from .output import refuse_blank_folder

    refuse_blank_folder(out_dir, "out_dir =", "the current folder; None writes nothing")


def _check_flags(**flags) -> None:
    """CaseError naming the first yes/no argument that is not True or False: a string from
    a script's settings is true (overwrite="no" replaced the earlier run)."""
    for name, value in flags.items():
        if not isinstance(value, bool):
            from .case import CaseError

            raise CaseError(f"{name} = {_shown(value)}: expected True or False")


def _refuse_absurd(case, force: bool, verb: str) -> None:
    """Unless force, the command's refusal of an absurd case (cost.refuse_absurd) as a
    CaseError naming force=True, which `verb` ("runs", "rates") it anyway."""
    if not force:
        from . import cost
        from .resolve import prepare

        cost.refuse_absurd(case, prepare(case), "case", f"force=True {verb} it anyway")


def _shown(value) -> str:
    """A value as an error line shows it: its repr, cut to 60 characters, and its type."""
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def run(case, out_dir=None, overwrite: bool = False, force: bool = False, **kwargs):
    """Run one case (a :class:`Case`, a dict or a path to a TOML file); see simulation.run.

    SIGTERM left at its default action ends the process, as it would have, but once the
    run's folder is whole: its summary.json says failed and why, an earlier run set aside
    is back (errors.sigterm_cleans_up). A caller's own SIGTERM handler stays in charge.

    Args:
        out_dir: folder for the run's files (None: write nothing); a new or empty one, or
            one holding an earlier run with overwrite (whose files are then replaced: set
            aside until the new run has a summary, put back if it stops before, as
            ``anodesim run --overwrite`` does).
        force: run a case that looks absurd (a spot below the model's validity, more
            cells than 1 M in 2-D or 5 M in 3-D), as ``anodesim run --force``; else it is
            refused as the command refuses it.

    Returns:
        A :class:`anodesim.results.RunResult`.

    Raises:
        CaseError: bad input (a Case whose source was edited after it was made included),
            a case ``anodesim run`` refuses without --force (unless force), or out_dir
            holds a rating, a study, or an earlier run without overwrite (as ``anodesim run
            -o``).
    """
    from . import _mpi  # noqa: F401  (MPI before dolfinx, for the wheel)
    from .errors import sigterm_cleans_up

    with sigterm_cleans_up():
        return _run_into(case, out_dir, overwrite, force, kwargs)


def _run_into(case, out_dir, overwrite: bool, force: bool, kwargs):
    """anodesim.run, SIGTERM handled."""
    from pathlib import Path

    from .errors import RunFailure
    from .simulation import run as _run

    _check_out_dir(out_dir)
    _check_flags(overwrite=overwrite, force=force)
    given = case
    case = _as_case(case)
    _refuse_absurd(case, force, "runs")
    source, text = _case_file(given, case)  # a case file: never removed
    keep = [source, case.mesh.file, case.geometry.file]
    if out_dir is not None:
        _recover_set_aside(Path(out_dir), keep, kwargs.get("comm"))
    aside = None if out_dir is None else _claim(Path(out_dir), "run", overwrite, keep,
                                                kwargs.get("comm"))
    try:
        result = _run(case, out_dir, **kwargs)
    except (RunFailure, KeyboardInterrupt):  # as `anodesim run`: what it wrote keeps its case
        from .run_folder import earlier_comes_back

        if out_dir is not None and Path(out_dir).is_dir() and not earlier_comes_back(
                Path(out_dir), aside):
            _keep_case_text(text, out_dir, kwargs.get("comm"))
        raise
    finally:
        if aside is not None:
            from .run_folder import settle_set_aside

            settle_set_aside(Path(out_dir), aside, keep)
    _keep_case_text(text, out_dir, kwargs.get("comm"))
    return result


def _recover_set_aside(out, keep, comm) -> None:
    """An earlier run that a killed anodesim.run(..., overwrite=True) left set aside (a
    SIGKILL, the out-of-memory killer: no code ran to put it back) put back, or removed
    as replaced, saying so on stderr, as ``anodesim run`` does; serial runs only (under
    mpirun the ranks would look at the folder while it changes)."""
    import sys

    from ._mpi import MPI

    from .errors import launcher_size
    from .run_folder import recover_set_aside

    if launcher_size() > 1 or (comm or MPI.COMM_WORLD).size > 1:
        return
    line = recover_set_aside(out, keep)
    if line:
        print(f"anodesim: {line}", file=sys.stderr)


def _case_file(given, case):
    """(file, text) of the case run or rated: the case file given (str or path-like), or the
    one a Case was read from by anodesim.load, which an earlier result's removal from the
    output folder spares alike (a Case from the folder's own case.toml lost that file); its
    text is kept as the folder's case.toml for the report, a Case's only while its file
    still reads as that case. (None, None) for a dict, or a Case made otherwise."""
    source = _file_of(given)
    if source is not None:
        return source, _case_text(source)
    path, base_dir = getattr(case, "_read_from", (None, None))
    if path is None:
        return None, None
    from .case import CaseError, load

    try:
        text = _case_text(path)
        same = load(path, base_dir) == case
    except (CaseError, OSError, UnicodeDecodeError):  # gone or broken since: kept, no text
        return path, None
    return path, text if same else None


def _case_text(source) -> str | None:
    """The text of a case file (None: the case was given as a dict or Case), read with the
    case: what _keep_case_text keeps, also if the file is edited while the case runs."""
    if source is None:
        return None
    from .cli.report import case_text

    return case_text(source)


def _keep_case_text(text: str | None, out_dir, comm=None) -> None:
    """The case file's text (_case_text) as out_dir/case.toml, as `anodesim run` and `rate`
    keep it (the report shows it; without it, the resolved case in SI units), on rank 0."""
    if text is None or out_dir is None:
        return
    from pathlib import Path

    from ._mpi import MPI

    if (comm or MPI.COMM_WORLD).rank == 0:
        from .cli.report import keep_case_text

        keep_case_text(text, Path(out_dir))


def _claim(out, kind: str, overwrite: bool, keep, comm, remove: bool = True):
    """Make out ready for a new run or rating of the Python API, as the command line does:
    refuse a folder of another kind of result, or an earlier one without overwrite; with
    it, remove the earlier rating's files, or set the earlier run's aside (rank 0 of comm,
    default COMM_WORLD, while the others wait; remove False: only refuse), but not the
    inputs in keep (the case file, a mesh to reuse). Returns the folder holding the
    earlier run set aside (rank 0), else None."""
    from .case import CaseError
    from .output import output_folder, refuse_other_result

    earlier = refuse_other_result(output_folder(out), kind, key="out_dir")
    if earlier is None:
        return None
    if not overwrite:
        raise CaseError(f"out_dir {out}: holds an earlier {kind} ({earlier[1]}); expected a "
                        f"new or empty folder, or overwrite=True to replace that {kind}")
    if not remove:
        return None
    from ._mpi import MPI

    from .errors import rank_zero_alone

    comm = comm or MPI.COMM_WORLD
    aside = None
    # (a file that cannot be moved): every rank stops (the others waited in a barrier)
    with rank_zero_alone(comm, OSError):
        if comm.rank == 0:
            if kind == "run":
                from .run_folder import aside_folder, set_aside_run

                aside = aside_folder(out)
                set_aside_run(out, aside, keep)
            else:
                from .rating.rate import remove_rating

                remove_rating(out, keep)
    return aside


def rate(case, out_dir=None, charts=("single", "duty", "continuous"), confirm: bool = True,
         confirm_charts: bool = False, progress: bool = False, overwrite: bool = False,
         fresh: bool = False, force: bool = False):
    """Rate a case: its limits, the maximum safe loading of its schedule and the charts.

    Each full FE run is kept in out_dir's checkpoint as it finishes: a rating killed or
    failed part way resumes from them at the next call. SIGTERM left at its default action
    ends the process, as it would have, once the finished runs are kept and nothing is half
    written (errors.sigterm_cleans_up); a caller's own handler stays in charge.

    Args:
        case: a :class:`Case`, a dict or a path to a TOML file.
        out_dir: folder for rating_<chart>.csv/.png and rating.json; None: write nothing.
        charts: a chart name or names: "single" (single-load chart, with the 0.1 s load),
            "duty" or "period" (the serial-load charts: both), "continuous" (continuous
            rating, with the heat-content curves), "life" (continuous power against the
            required life), "all" (every one, as ``anodesim rate --chart all``).
        confirm: confirm the maximum safe loadings by full FE runs.
        confirm_charts: also confirm every single-load chart point by full FE runs.
        progress: print one line per stage and per full FE run on stderr.
        overwrite: replace an earlier rating in out_dir (else a folder holding one, a run
            or a study is refused, as by ``anodesim rate -o``).
        fresh: make every FE run again, discarding those a rating of the case into out_dir
            that was killed or failed part way kept there (by default they are taken
            again, as by ``anodesim rate``; ``--fresh``).
        force: rate a case that looks absurd (a spot below the model's validity, more
            cells than 1 M in 2-D or 5 M in 3-D: tens of full FE runs of it), as
            ``anodesim rate --force``; else it is refused, as by ``anodesim.run``.

    Returns:
        A :class:`anodesim.rating.Rating` (``to_dict()`` is rating.json, ``plot(chart)``).

    Raises:
        CaseError: bad rating input (an unknown chart name included), a case the engine
            cannot rate (not linear in the power, no cooled face), a case ``anodesim rate``
            refuses without --force (unless force), or an out_dir it may not write
            (overwrite).
    """
    from .errors import sigterm_cleans_up
    from .rating import helper
    from .rating.kirchhoff import PointRuns

    parsed = _helped_case(case)  # read once: the helper's memory check, then the rating
    # a helper for the FE anchors on the idle core, forked before MPI starts
    with sigterm_cleans_up(), helper.started(confirm and helper.anchored(charts), parsed,
                                              PointRuns):
        from . import _mpi  # noqa: F401

        return _rate_into(case, out_dir, charts, confirm, confirm_charts, progress,
                          overwrite, fresh, force, parsed)


def _helped_case(case):
    """The Case of anodesim.rate's case argument for its helper's memory check, or None
    (bad input: the rating refuses it itself, with its own line)."""
    try:
        return _as_case(case)
    except Exception:
        return None


def _rate_into(case, out_dir, charts, confirm: bool, confirm_charts: bool, progress: bool,
               overwrite: bool, fresh: bool, force: bool, parsed=None):
    """anodesim.rate, SIGTERM handled."""
    import sys
    from pathlib import Path

    from . import _mpi  # noqa: F401
    from .rating import ResponseError, rate as _rate

    from .rating.rate import chart_selection

    charts = chart_selection(charts)  # an unknown chart name before anything is read
    _check_out_dir(out_dir)
    _check_flags(confirm=confirm, confirm_charts=confirm_charts, overwrite=overwrite,
                 fresh=fresh, force=force)
    given = case
    case = parsed if parsed is not None else _as_case(case)  # (None: its error raised here)
    _refuse_absurd(case, force, "rates")
    source, text = _case_file(given, case)  # a case file: never removed
    if out_dir is not None:  # refused before rating; an earlier one removed once rated
        _claim(Path(out_dir), "rating", overwrite, [source], None, remove=False)
    say = (lambda m: print(m, file=sys.stderr)) if progress else (lambda m: None)
    try:
        rating = _rate(case, None, charts, confirm=confirm, progress=say,
                       confirm_charts=confirm_charts,
                       checkpoint=None if out_dir is None else Path(out_dir), fresh=fresh)
    except ResponseError as e:
        from .case import CaseError

        raise CaseError(str(e)) from None
    if out_dir is not None:
        from ._mpi import MPI

        from .output import held_result, output_folder
        from .rating.rate import publish

        out = output_folder(Path(out_dir))
        _claim(out, "rating", overwrite, [source], None, remove=False)
        if MPI.COMM_WORLD.rank == 0:  # as `anodesim rate`: in one step, signals held
            publish(rating, out, case, text, replace=held_result(out) is not None,
                    keep=[source])
    return rating


def sweep(study, out_dir=None, jobs: int = 1, progress: bool = False,
          retry_failed: bool = False):
    """Run a study and return its results table (:class:`anodesim.study.Table`).

    SIGTERM left at its default action ends the process, as it would have, once the
    workers are stopped, the results so far collected and the folder let go of
    (errors.sigterm_cleans_up); a caller's own handler stays in charge.

    Args:
        study: a study file (TOML), a study folder, a dict (``case`` may be a case dict built
            in code), or a :class:`anodesim.study.Study`.
        out_dir: study folder (default results/<study file name>, or results/study-<id>).
        jobs: cases run at once, each in its own process.
        progress: print one line per finished case on stderr.
        retry_failed: run the failed cases of the folder again (``sweep --retry-failed``);
            a failure is replaced only by a new result.

    Raises:
        CaseError: a bad study, out_dir holds a different study, or the script was started
            on several MPI ranks (each case runs in its own process).
    """
    from .errors import sigterm_cleans_up

    with sigterm_cleans_up():
        return _sweep_into(study, out_dir, jobs, progress, retry_failed)


def _sweep_into(study, out_dir, jobs, progress: bool, retry_failed: bool):
    """anodesim.sweep, SIGTERM handled."""
    import os
    import sys
    from pathlib import Path

    from . import study as study_mod

    study_mod.refuse_mpi_launch("anodesim.sweep", "the script", "jobs={n}")
    if isinstance(study, dict):
        st = study_mod.from_dict(study)
    elif isinstance(study, study_mod.Study):
        st = study
    elif isinstance(study, (str, os.PathLike)):
        st = study_mod.load(study)
    else:
        from .case import CaseError

        raise CaseError(
            f"study = {_shown(study)}: expected a study file, a study folder, a dict of the "
            "study file's keys or an anodesim.study.Study")
    jobs = study_mod.check_jobs(jobs, f"jobs = {jobs!r}")
    _check_out_dir(out_dir)
    _check_flags(retry_failed=retry_failed)  # bool("no") would run the failed cases again
    source = _file_of(study)
    out = Path(out_dir) if out_dir is not None else study_mod.default_folder(st, source)
    study_mod.open_folder(st, out)
    say = (lambda m: print(m, file=sys.stderr)) if progress else (lambda m: None)
    try:
        table = study_mod.run_local(st, out, jobs, say, retry_failed=retry_failed)
    finally:
        study_mod.release_folder(out)  # also when run_local fails before its own release
    from .cli import report

    if (out / report.REPORT_NAME).is_file():  # as `anodesim sweep`: never a stale page
        report.write(out)  # beside the new results.csv
    return table
