"""Studies: a base case and parameter axes, one process per case, a results table, resume
after a crash or a kill.

A study folder holds::

    study.json            the study (self-contained) with its case list and provenance
    cases/<id>/           one case's outputs; result.json inside marks it finished
    results.csv           one row per case (rewritten atomically after every case)
    results.png           the quick-look plot

The per-case entry point is ``anodesim sweep FOLDER --task-id N``: it runs case N of the
study in that folder and writes ``cases/<id>/`` by an atomic rename, so any executor (the
local one here, a SLURM job array, GNU parallel, Dask) can drive it and a case is either
finished or absent.

- spec.py: the study file (axes, tasks, case ids);
- folder.py: the folder protocol; worker.py: one case and its row;
- table.py: results.csv and results.png; local.py, slurm.py: the executors.
"""

from .folder import (FIXED_COLUMNS, RESULT, _clean_stale, check_jobs, default_folder,
                     jobs_over_cores, open_folder, record_failure, refuse_mpi_launch,
                     release_folder, result_of)
from .local import run_local, worker_command
from .slurm import slurm_script, submit_slurm
from .spec import CASE_AXIS, Point, Study, from_dict, load, set_key
from .table import Table, collect, plot
from .worker import run_point

__all__ = ["CASE_AXIS", "FIXED_COLUMNS", "RESULT", "Point", "Study", "Table", "_clean_stale",
           "check_jobs", "collect", "default_folder", "from_dict", "jobs_over_cores", "load",
           "open_folder",
           "plot", "record_failure", "refuse_mpi_launch", "release_folder", "result_of", "run_local", "run_point",
           "set_key", "slurm_script", "submit_slurm", "worker_command"]
