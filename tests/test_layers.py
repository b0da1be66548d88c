"""The package's layers: every import inside src/anodesim (function-local ones too) read with
ast; no import cycle, and none of the forbidden directions of DESIGN.md:

- the solver and the run layer know no command line and no sweep;
- geometry (and the frames) knows no equations;
- case validation imports no dolfinx and no solver module (and, run for real, loads no
  dolfinx, ufl, PETSc or gmsh);
- the run layer does not call up into the rating, the limits sit below both;
- writers know no command line.

The package's __init__ (the flat API and __version__) is left out of the graph: it stands
above everything and everything may read its version.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import anodesim

SRC = Path(anodesim.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Modules of the package that a file imports, at any depth of its code."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("anodesim"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("anodesim"):
                target = node.module
            else:
                continue
            subs = [f"{target}.{a.name}" for a in node.names]
            found = [s for s in subs if s in modules]
            out.update(found if found else [target])
    return {m for m in out if m != "anodesim" and m != name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    modules = set(files)
    return {m: imports_of(p, modules) for m, p in files.items() if m != "anodesim"}


def short(m: str) -> str:
    return m.removeprefix("anodesim.")


def cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(short(c) for c in comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_graph_is_read():
    """The reader finds known edges, function-local ones included."""
    g = {short(k): {short(x) for x in v} for k, v in graph_now().items()}
    assert "case" in g["geometry.axisym"]
    assert "simulation" in g["rating.engine"]  # a function-local import
    assert "limits" in g["simulation"]


def graph_now():
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    return {m: imports_of(p, set(files)) for m, p in files.items() if m != "anodesim"}


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def in_group(m: str, group) -> bool:
    m = short(m)
    return any(m == g or m.startswith(g + ".") for g in group)


SOLVER = ("thermal", "linalg", "probes", "coolant", "mechanics", "coupling", "drift", "beam",
          "loading", "materials", "response", "geometry", "frames", "resolve", "monitors", "results",
          "limits", "simulation", "run_folder", "output", "rating")
GEOMETRY = ("geometry", "frames")
EQUATIONS = ("thermal", "linalg", "probes", "coolant", "mechanics", "coupling", "drift",
             "response", "monitors", "simulation", "rating", "limits")
CASE = ("case", "frames", "materials", "beam")
RUN = ("resolve", "monitors", "results", "limits", "simulation", "run_folder")
WRITERS = ("output", "run_folder", "rating.rate", "results")

BASE = ("errors",)  # the two kinds of failure (CaseError, RunFailure)

RULES = [
    ("the solver and run layer know no CLI or sweep", SOLVER, ("cli", "study")),
    ("geometry knows no equations", GEOMETRY, EQUATIONS),
    ("case validation imports no solver module", CASE,
     tuple(m for m in SOLVER if m not in CASE)),
    ("the run layer does not call the rating", RUN, ("rating",)),
    ("the limits sit below the run and the rating", ("limits",),
     ("simulation", "monitors", "rating", "run_folder")),
    ("writers know no CLI", WRITERS, ("cli",)),
    ("output imports nothing of anodesim but the error kinds", ("output",), ("",)),
]


@pytest.mark.parametrize("rule, sources, forbidden", RULES, ids=[r[0] for r in RULES])
def test_forbidden_directions(graph, rule, sources, forbidden):
    bad = sorted(f"{short(m)} -> {short(x)}" for m, deps in graph.items() if in_group(m, sources)
                 for x in deps
                 if (forbidden == ("",) or in_group(x, forbidden)) and not in_group(x, sources)
                 and not in_group(x, BASE))
    assert bad == [], f"{rule}: {bad}"


def test_case_validation_loads_no_solver(tmp_path):
    """Reading and rejecting a case loads no dolfinx, ufl, PETSc, gmsh or matplotlib."""
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "x"\n[geometry]\nkind = "nope"\n')
    code = ("import sys, anodesim\n"
            "from anodesim.case import CaseError\n"
            f"try:\n    anodesim.load({str(bad)!r})\nexcept CaseError:\n    pass\n"
            "heavy = [m for m in ('dolfinx', 'ufl', 'petsc4py', 'gmsh', 'matplotlib')"
            " if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
