"""One case of a study, run in its own process: the case's tasks (run, rate) and its row of
the results table, from the typed RunResult and Rating."""

from __future__ import annotations

import math
import os
import shutil
import socket
import time
import traceback
from pathlib import Path

from .. import output
from ..case import CaseError
from .folder import RESULT, _lock, _publish, result_of
from .spec import Point, Study


def run_point(study: Study, out: Path, point: Point, retry_failed: bool = False) -> dict:
    """Run one case into ``cases/<id>`` (atomically renamed when done); return its row.

    A finished case is not run again; with retry_failed, a failed one is, and its new row
    replaces the failure when done (what a SLURM array of --retry-failed runs). Any failure
    (invalid combination, solver failure, material range, NaN) is recorded in the row, never
    raised. The work folder is locked
    while the case runs, so a sweep started meanwhile leaves it alone.
    """
    done = result_of(out, point)
    if done is not None and not (retry_failed and done["status"] == "failed"):
        return done
    work = out / "cases" / f".{point.id}.{os.getpid()}@{socket.gethostname()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    lock = _lock(work)
    started = time.perf_counter()
    row = {"index": point.index, "id": point.id, "status": "ok", "error": "", **point.inputs}
    try:
        if point.error:
            raise CaseError(point.error)
        row.update(_outputs(study, point, work))
        bad = [k for k, v in row.items() if isinstance(v, float) and math.isnan(v)]
        if bad:
            raise FloatingPointError(f"NaN in the results ({', '.join(bad[:3])})")
    except Exception as e:  # noqa: BLE001 - a failed case is a result, the sweep goes on
        row["status"] = "failed"
        row["error"] = f"{type(e).__name__}: {e}".replace("\n", " ")
        output.atomic_write(work / "error.txt", traceback.format_exc())
    row["wall_s"] = time.perf_counter() - started
    output.write_json(work / RESULT, row, durable=True)
    _publish(work, out / "cases" / point.id, replace_failed=retry_failed)
    os.close(lock)
    return result_of(out, point) or row


def _outputs(study: Study, point: Point, work: Path) -> dict:
    """Run the case's tasks and pick the key figures for its row."""
    import dataclasses as dc

    from .. import case as case_mod
    from ..case import Loading

    case = case_mod.from_dict(point.data, point.base_dir)
    if point.inputs:  # plot titles name the swept values (the id is the case's, unchanged)
        from .table import _label

        case = dc.replace(case, title=f"{case.title} ({_label(point.inputs, point.inputs)})")
    row: dict = {}
    if study.run:
        from .._mpi import MPI

        from .. import cost
        from ..resolve import prepare
        from ..simulation import run

        why = cost.refusal(case, prepare(case))  # as `anodesim run` refuses it
        if why:
            raise CaseError(f"{why}; `anodesim check` tells the cost, `anodesim run --force` "
                            "runs it alone")

        res = run(case, work, comm=MPI.COMM_SELF)
        s = res.summary_dict()
        if s["status"] != "complete":
            raise RuntimeError(s["error"] or s["status"])
        r = s["results"]
        row["T_peak_max_C"] = r["T_peak_max_C"]
        row["T_peak_max_time_s"] = r["T_peak_max_time_s"]
        for region, T in r["T_max_by_region_C"].items():
            row[f"T_max_{region}_C"] = T
        row["limits_hold"] = all(lim["holds"] for lim in r["limits"])
        m = s.get("mechanics") or {}
        for c in ("drift_across_view_um", "image_drift_px", "u_spot_z_um", "spot_shift_um",
                  "magnification_change_rel"):
            if c in m:
                row[f"{c}_max_abs"] = m[c]["max_abs"]
                row[f"{c}_final"] = m[c]["final"]
        row["deposited_power_W"] = s["beam"]["deposited_power_W"]
        row["cells"] = s["numerics"]["cells"]
    if study.rate:
        from ..rating import ResponseError, precheck, rate

        charts = ("continuous",) if "continuous" in study.rate else ()
        target = case
        if "schedule" not in study.rate:
            target = dc.replace(case, loading=Loading("steady", ()))
        try:
            precheck(target, charts)
            res = rate(target, work / "rating", charts, confirm=True, progress=lambda m: None)
        except ResponseError as e:
            raise CaseError(str(e)) from None
        if "schedule" in study.rate:
            sl = res.max_safe
            row["max_safe_beam_power_W"] = sl.power_W
            segments = case.loading.segments
            if segments:  # the schedule's time-averaged beam power at that rating
                top = max(p for _, p in segments)
                mean = sum(d * p for d, p in segments) / sum(d for d, _ in segments) / top
                row["max_safe_mean_beam_power_W"] = sl.power_W * mean
            row["binding_limit"] = sl.binding
            row["confirmed_schedule"] = sl.confirmed  # the FE search's verdict (safe.tolerance)
        if "continuous" in study.rate:
            c = res.continuous
            row["max_continuous_beam_power_W"] = c["max_continuous_beam_power_W"]
            row["binding_continuous"] = c["binding"]
            row["confirmed_continuous"] = c["confirmed"]
            row["max_continuous_beam_power_engine_W"] = c["max_continuous_beam_power_engine_W"]
    return row
