"""anodesim: transient heat, focal-spot drift and ratings of X-ray tube anodes.

The case layer (``anodesim.case``, ``anodesim.materials``) imports no dolfinx, so a bad case
fails fast; the finite-element stages import dolfinx when they run.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("anodesim")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

from .case import Case, CaseError, from_dict, load  # noqa: E402

__all__ = ["Case", "CaseError", "from_dict", "load", "run", "__version__"]


def run(case, out_dir=None, **kwargs):
    """Run one case (a :class:`Case`, a dict or a path to a TOML file); see pipeline.run."""
    from . import _mpi  # noqa: F401  (MPI before dolfinx, for the wheel)
    from .pipeline import run as _run

    if isinstance(case, dict):
        case = from_dict(case)
    elif not isinstance(case, Case):
        case = load(case)
    return _run(case, out_dir, **kwargs)
