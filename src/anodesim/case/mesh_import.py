"""A user's volume mesh from any format meshio reads (gmsh, Abaqus, Nastran, VTK, Salome MED,
Exodus, XDMF, ...) as plain arrays in metres, read while the case is validated (meshio and
numpy only): linear tetrahedra with a region tag each, and
tagged boundary triangles (faces), with the group names. No dolfinx here.

Where the names come from, in this order:

- ``[geometry.groups]`` of the case (name → an integer tag of the file's cell-tag array, or
  the name of a set in the file): then exactly these groups are used. The tag array is the
  first of TAG_ARRAYS the file has (gmsh physical tags, MED families, Nastran property IDs,
  ...), else its only integer cell array, else the cell blocks' numbers 1, 2, ... (Exodus
  element blocks, in file order);
- else the file's own named sets: element sets (Abaqus ELSET, gmsh 4.1 physical groups read
  by meshio as cell sets; gmsh 2.2 physical names, which meshio gives as field data beside
  the gmsh:physical tags), MED groups (families), and node sets (Abaqus NSET, MED node groups,
  Exodus node sets) for faces: a boundary triangle is in a node-set face when all three of
  its nodes are.

The regions must share their nodes where they touch: a mesh that falls into parts sharing
no node (a region with its own copies of the interface nodes) is refused, as no heat would
cross between them.

Second-order tetrahedra and triangles keep their corner nodes (straight-sided cells: a curved
boundary moves by at most its sagitta within one element). Hexahedra, wedges and pyramids
are refused: splitting them into tetrahedra that match across shared quadrilateral faces is
not always possible without new nodes; re-mesh with tetrahedra instead.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .model import ordered_regions

UNITS = {"m": 1.0, "mm": 1e-3}
TETS = {"tetra": 4, "tetra10": 4}
TRIANGLES = {"triangle": 3, "triangle6": 3, "triangle7": 3}
REFUSED = ("hexahedron", "hexahedron20", "hexahedron24", "hexahedron27", "wedge", "wedge12",
           "wedge15", "wedge18", "pyramid", "pyramid13", "pyramid14")
# integer cell-data arrays that hold group tags, in order of preference
TAG_ARRAYS = ("gmsh:physical", "cell_tags", "nastran:ref", "medit:ref", "CellEntityIds",
              "PropertyID", "ElementBlockIds", "tags", "tag")
# a plausible anode's size: between these bounding-box diagonals (m)
SMALLEST_M, LARGEST_M = 50e-6, 2.0


class MeshImportError(ValueError):
    """A user mesh that cannot be used; the message is one line naming the key."""


@dataclass(frozen=True)
class ImportedMesh:
    """A tetrahedral mesh with tagged regions and faces (m).

    Attributes:
        points: node coordinates (N, 3), m (only nodes of the tetrahedra).
        tets: corner nodes of the tetrahedra (n, 4).
        cell_tag: region tag of each tetrahedron (n,).
        facets: corner nodes of the tagged triangles (m, 3).
        facet_tag: face tag of each triangle (m,).
        groups: name → tag (regions 1, 2, ...; faces numbered after the regions).
        dims: name → 3 (region) or 2 (face).
        inner: face name → how many of its triangles lie inside the mesh (faces of two
            tetrahedra: an interface between regions, not the surface).
    """

    points: np.ndarray
    tets: np.ndarray
    cell_tag: np.ndarray
    facets: np.ndarray
    facet_tag: np.ndarray
    groups: dict[str, int]
    dims: dict[str, int]
    inner: dict[str, int] = field(default_factory=dict)

    def group(self, name: str) -> np.ndarray:
        """The cells (tetrahedra or triangles) of the named group, as node arrays."""
        if self.dims[name] == 3:
            return self.tets[self.cell_tag == self.groups[name]]
        return self.facets[self.facet_tag == self.groups[name]]

    @property
    def diagonal(self) -> float:
        """Bounding-box diagonal (m)."""
        return float(np.linalg.norm(self.points.max(axis=0) - self.points.min(axis=0)))


def face_regions(um: ImportedMesh) -> dict[str, tuple[str, ...]]:
    """The regions each face group bounds: those of the tetrahedra its triangles are faces
    of, by region name in the mesh's region order.

    Only the tetrahedra with three corners on a named triangle are compared (the others
    have no face among them): matching every tetrahedron's four faces took 10 s and a
    668 MiB peak on every rank for 1.3 million tetrahedra, at each of a rating's transforms
    (now 0.07 s, 15 MiB)."""
    local = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
    faces = [n for n, d in um.dims.items() if d == 2]
    on = np.zeros(int(max(um.tets.max(), um.facets.max(initial=0))) + 1, bool)
    on[um.facets.ravel()] = True
    near = np.flatnonzero(on[um.tets].sum(axis=1) >= 3)
    tris = um.tets[near][:, local].reshape(-1, 3)
    keep = on[tris].all(axis=1)
    tris = np.sort(tris[keep], axis=1)
    named = np.sort(um.facets, axis=1)
    _, inv = np.unique(np.concatenate([tris, named]), axis=0, return_inverse=True)
    inv = inv.ravel()
    tags = np.repeat(um.cell_tag[near], 4)[keep]
    region_of = {t: n for n, t in um.groups.items() if um.dims[n] == 3}
    out = {}
    for name in faces:
        ids = inv[len(tris):][um.facet_tag == um.groups[name]]
        found = set(np.unique(tags[np.isin(inv[:len(tris)], ids)]).tolist())
        out[name] = tuple(region_of[t] for t in sorted(region_of) if t in found)
    return out


def read(path: str, unit: str, mapping: dict[str, int | str] | None = None,
         regions: frozenset[str] = frozenset()) -> ImportedMesh:
    """The mesh file as an ImportedMesh (cached on the file's path, size and time).

    Args:
        path: the mesh file (format from its extension, as meshio decides).
        unit: length unit of the file's coordinates, a key of UNITS.
        mapping: ``[geometry.groups]``: name → tag or set name, or None (the file's sets).
        regions: the names the case gives a material: a mapped integer tag that marks both
            volume and surface cells (gmsh numbers volume and surface groups apart) is
            their volume cells for these names and "target", its surface cells for others.

    Raises:
        MeshImportError: one line, starting with the case key at fault.
    """
    st = os.stat(path)
    items = tuple(sorted((mapping or {}).items()))
    # only the integer-mapped names matter: the case reader (names in [materials]) and a
    # run (the regions found) then give the same key, and the file is read once
    regions = frozenset(n for n in set(regions) | {"target"}
                        if isinstance((mapping or {}).get(n), int))
    return _read(str(path), st.st_size, st.st_mtime_ns, unit, items, mapping is not None,
                 regions)


def of_geometry(geometry) -> ImportedMesh:
    """The user mesh of a read case's geometry (cached): its file, unit and groups, its
    regions the volume groups the case reader found."""
    return read(geometry.file, geometry.mesh_unit,
                dict(geometry.groups) if geometry.groups else None,
                frozenset(n for n, d in geometry.mesh_groups.items() if d == 3))


@functools.lru_cache(maxsize=4)
def _read(path, _size, _mtime, unit, items, mapped, regions) -> ImportedMesh:
    import meshio

    where = f"geometry.file = {path!r}"
    if "nastran" in meshio.extension_to_filetypes.get(Path(path).suffix.lower(), ()) \
            and _nastran_bulk_empty(path):
        raise MeshImportError(f"{where}: nothing follows BEGIN BULK (a Nastran file cut "
                              "short?); expected its bulk data (GRID and element cards), "
                              "ending with ENDDATA")
    said = io.StringIO()
    try:
        # meshio prints each format's failure and, when none could read the file, "Error:
        # Couldn't read file ..." and sys.exit(1): kept off the user's terminal and turned
        # into this one line
        with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
            m = meshio.read(path)
    except ImportError as e:
        raise MeshImportError(f"{where}: reading it needs the Python package {e.name!r}; "
                              f"expected it installed (pip install {e.name})") from None
    except (Exception, SystemExit) as e:  # noqa: BLE001 - meshio raises many kinds
        if isinstance(e, SystemExit):
            # its last message, which it may have wrapped over lines
            text = " ".join(said.getvalue().rpartition("Error:")[2].split())
        else:
            text = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        raise MeshImportError(f"{where}: meshio cannot read it ({text}); expected a "
                              "volume mesh in a format meshio reads") from None
    kinds = {b.type for b in m.cells}
    refused = sorted(kinds & set(REFUSED))
    if refused:
        n = sum(len(b.data) for b in m.cells if b.type in refused)
        raise MeshImportError(f"{where}: {n} {'/'.join(refused)} cells; expected tetrahedra "
                              "only (re-mesh the volumes with tetrahedra: these cells cannot "
                              "always be split into matching tetrahedra without new nodes)")
    blocks = _Blocks(m)
    if not len(blocks.tets):
        raise MeshImportError(f"{where}: no volume cells (found {', '.join(sorted(kinds))}); "
                              "expected a volume mesh of tetrahedra, not a surface mesh")
    sets = _mapped_sets(m, blocks, dict(items), where, regions) if mapped else \
        _named_sets(m, blocks)
    return _assemble(m.points[:, :3] * UNITS[unit], blocks, sets, where, mapped)


def _nastran_bulk_empty(path: str) -> bool:
    """True when a Nastran file's BEGIN BULK is followed by blank lines and comments only
    (an export cut short): meshio 5.3's reader then loops for ever at the end of the file
    (its skip of blank lines and comments never tests for it), where `check` and `run`
    must give one line. A line counts as data as meshio counts it: at least 4 characters
    with its newline, not starting with $, // or #."""
    with open(path, "rb") as f:
        bulk = False
        for line in f:
            if not bulk:
                bulk = line.strip().startswith(b"BEGIN BULK")
            elif len(line) >= 4 and not line.startswith((b"$", b"//", b"#")):
                return False
    return bulk


class _Blocks:
    """The file's tetrahedra and triangles, each concatenated over meshio's cell blocks,
    with each block's offset into them (None: neither)."""

    def __init__(self, m):
        tets, tris, self.offset = [], [], []
        nt = nf = 0
        for b in m.cells:
            if b.type in TETS:
                self.offset.append((3, nt))
                tets.append(np.asarray(b.data)[:, :4])
                nt += len(b.data)
            elif b.type in TRIANGLES:
                self.offset.append((2, nf))
                tris.append(np.asarray(b.data)[:, :3])
                nf += len(b.data)
            else:
                self.offset.append(None)
        self.tets = np.concatenate(tets).astype(np.int64) if tets else np.empty((0, 4), int)
        self.tris = np.concatenate(tris).astype(np.int64) if tris else np.empty((0, 3), int)

    def select(self, per_block) -> tuple[np.ndarray, np.ndarray]:
        """(tet indices, triangle indices) from per-block index or boolean arrays."""
        out = {3: [], 2: []}
        for off, idx in zip(self.offset, per_block):
            if off is None or idx is None:
                continue
            idx = np.asarray(idx)
            if idx.dtype == bool:
                idx = np.flatnonzero(idx)
            out[off[0]].append(idx.astype(np.int64) + off[1])
        return tuple(np.concatenate(out[d]) if out[d] else np.empty(0, np.int64) for d in (3, 2))


# a set: ("cells", tet indices, triangle indices) or ("nodes", node indices)
def _named_sets(m, blocks: _Blocks) -> dict[str, tuple]:
    sets = {}
    for name, per_block in m.cell_sets.items():
        if ":" not in name:  # meshio's own bookkeeping sets (gmsh:bounding_entities)
            sets[name] = ("cells", *blocks.select(per_block))
    phys = m.cell_data.get("gmsh:physical")  # gmsh 2.2: names only in field data
    for name, (tag, dim) in ((k, v[:2]) for k, v in m.field_data.items()
                             if phys is not None and len(v) >= 2):
        if name not in sets and int(dim) in (2, 3):
            sets[name] = ("cells", *blocks.select(
                [np.asarray(a) == tag if off is not None and off[0] == int(dim) else None
                 for a, off in zip(phys, blocks.offset)]))
    fam = m.cell_data.get("cell_tags")  # Salome MED: family numbers → group names
    for number, names in (getattr(m, "cell_tags", None) or {}).items():
        if fam is None:
            break
        cells = blocks.select([np.asarray(a) == number for a in fam])
        for name in names:
            old = sets.get(name, ("cells", np.empty(0, np.int64), np.empty(0, np.int64)))
            sets[name] = ("cells", *(np.union1d(a, b) for a, b in zip(old[1:], cells)))
    point_sets = dict(m.point_sets)
    tags = m.point_data.get("point_tags")
    for number, names in (getattr(m, "point_tags", None) or {}).items():
        if tags is not None:
            for name in names:
                point_sets[name] = np.union1d(point_sets.get(name, []),
                                              np.flatnonzero(tags == number))
    for name, nodes in point_sets.items():
        if name not in sets and ":" not in name:
            sets[name] = ("nodes", np.asarray(nodes, dtype=np.int64))
    return sets


def _mapped_sets(m, blocks: _Blocks, mapping: dict, where: str,
                 regions: frozenset[str]) -> dict[str, tuple]:
    named = None
    array_name = next((k for k in TAG_ARRAYS if k in m.cell_data), None)
    if array_name is None:
        ints = [k for k, v in m.cell_data.items() if all(
            np.issubdtype(np.asarray(a).dtype, np.integer) for a in v)]
        array_name = ints[0] if len(ints) == 1 else None
    sets = {}
    for name, ref in mapping.items():
        if isinstance(ref, str):
            named = _named_sets(m, blocks) if named is None else named
            if ref not in named:
                raise MeshImportError(f"geometry.groups.{name} = {ref!r}: no such set in the "
                                      "file; expected one of " + (", ".join(sorted(named))
                                                                   or "(none: it has no sets)"))
            sets[name] = named[ref]
            continue
        # no tag array (Exodus): the cell blocks (element blocks) numbered 1, 2, ...
        tag_data = (m.cell_data[array_name] if array_name is not None else
                    [np.full(len(b.data), i) for i, b in enumerate(m.cells, start=1)])
        tets, tris = blocks.select([np.asarray(a) == ref for a in tag_data])
        where_tags = (f"the array {array_name!r}" if array_name is not None else
                      "the cell-block numbers: " + ", ".join(
                          f"{i} {b.type}" for i, b in enumerate(m.cells, start=1)))
        if not len(tets) and not len(tris):
            found = np.unique(np.concatenate([np.asarray(a).ravel() for a in tag_data]))
            raise MeshImportError(f"geometry.groups.{name} = {ref}: no cell has this tag in "
                                  f"{where_tags}; expected one of "
                                  f"{', '.join(str(int(t)) for t in found)}")
        dropped = None
        if len(tets) and len(tris):  # gmsh: a volume and a surface group of one number
            if name in regions:
                tris = tris[:0]
            else:  # the face; its volume cells kept aside to name the cause if they are
                dropped, tets = (ref, tets), tets[:0]  # then in no region (_assemble)
        if name == "target" and not len(tets):  # else a face, clashing with the beam face
            raise MeshImportError(f"geometry.groups.{name} = {ref}: the cells with this tag "
                                  f"are surface cells (tags from {where_tags}); expected the "
                                  "tag of the target's volume cells")
        sets[name] = ("cells", tets, tris) if dropped is None else \
            ("cells", tets, tris, dropped)
    return sets


def _assemble(points, blocks: _Blocks, sets: dict, where: str, mapped: bool) -> ImportedMesh:
    tets = blocks.tets
    n = len(tets)
    regions = {k: v[1] for k, v in sets.items() if v[0] == "cells" and len(v[1])}
    cell_tag = np.zeros(n, dtype=np.int32)
    groups, dims = {}, {}
    hint = "" if mapped else "; name the groups in [geometry.groups]"
    order = ordered_regions(sorted(regions))  # the target first, the heat sink second
    for tag, (name, idx) in enumerate(((r, regions[r]) for r in order), start=1):
        clash = cell_tag[idx] != 0
        if clash.any():
            other = next(k for k, t in groups.items() if t == cell_tag[idx][clash][0])
            raise MeshImportError(f"{where}: cells in both the sets '{other}' and '{name}'; "
                                  f"expected each volume cell in one region{hint}")
        cell_tag[idx] = tag
        groups[name], dims[name] = tag, 3
    if not groups:
        raise MeshImportError(f"{where}: no named set of volume cells; expected element sets "
                              "or groups naming the regions (or [geometry.groups])")
    if (cell_tag == 0).any():
        # a tag of volume and surface cells read as a face: [materials] names no region
        lost = [(name, v[3][0]) for name, v in sets.items()
                if len(v) > 3 and (cell_tag[v[3][1]] == 0).any()]
        if lost:
            names = " or ".join(f"'{n}'" for n, _ in lost)
            keys = " or ".join(f"materials.{n}" for n, _ in lost)
            raise MeshImportError(
                "geometry.groups: " + ", ".join(f"{n} = {t}" for n, t in lost)
                + f": the tag marks volume cells (in no region now) and surface cells, read "
                f"as a face because [materials] gives {names} no material; expected the "
                f"region's material in [materials] ({keys})")
        raise MeshImportError(f"{where}: {int((cell_tag == 0).sum())} of {n} volume cells are "
                              f"in no region set (regions: {', '.join(groups)}); expected "
                              f"every volume cell in a named region{hint}")
    facets, values, inner = _faces(tets, blocks.tris, sets, groups, dims, where, hint)
    used, inverse = np.unique(tets, return_inverse=True)
    remap = np.full(max(int(tets.max()), int(facets.max(initial=0))) + 1, -1, np.int64)
    remap[used] = np.arange(len(used))
    out = ImportedMesh(points[used], inverse.reshape(tets.shape), cell_tag,
                       remap[facets], values, groups, dims, inner)
    _check_connected(out, where)
    return out


def _check_connected(um: ImportedMesh, where: str) -> None:
    """One body: the tetrahedra joined through shared nodes. Parts that share no node (a
    region meshed with its own copies of the interface nodes, as separate Abaqus parts or
    a tie constraint leave it, or a body apart from the rest) exchange no heat: a steady
    run would be singular, a transient one would heat the target as if insulated."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    t = um.tets
    n = len(um.points)
    graph = coo_matrix((np.ones(3 * len(t)), (np.repeat(t[:, 0], 3), t[:, 1:].ravel())),
                       shape=(n, n))
    parts, label = connected_components(graph, directed=False)
    if parts == 1:
        return
    from scipy.spatial import cKDTree

    part_of_cell = label[t[:, 0]]
    names = {tag: name for name, tag in um.groups.items() if um.dims[name] == 3}
    content = [", ".join(sorted(names[int(g)]
                                for g in np.unique(um.cell_tag[part_of_cell == i])))
               for i in range(parts)]
    # nodes closer than round-off of the mesh's size: one node written twice
    pairs = cKDTree(um.points).query_pairs(1e-9 * um.diagonal, output_type="ndarray")
    shared = int(np.count_nonzero(label[pairs[:, 0]] != label[pairs[:, 1]]))
    listed = "; ".join(f"part {i + 1}: {c}" for i, c in enumerate(content[:3]))
    more = f"; and {parts - 3} more" if parts > 3 else ""
    also = (f"; {shared} nodes of one part coincide with nodes of another: merge them"
            if shared else "")
    raise MeshImportError(f"{where}: the mesh falls into {parts} parts that share no node "
                          f"({listed}{more}{also}); expected one body whose regions share "
                          "their nodes where they touch (heat does not cross between parts)")


def _faces(tets, tris, sets, groups, dims, where, hint):
    """Tagged triangles of the face sets: the file's triangles (checked to be tetrahedron
    faces), or the boundary triangles whose nodes are all in a node set; and how many
    triangles of each set lie inside the mesh (faces of two tetrahedra)."""
    local = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
    uniq, counts = np.unique(np.sort(tets[:, local].reshape(-1, 3), axis=1), axis=0,
                             return_counts=True)
    boundary = uniq[counts == 1]
    faces = {}
    for name, s in sorted(sets.items()):
        if name in groups:
            continue
        f = (boundary[np.isin(boundary, s[1]).all(axis=1)] if s[0] == "nodes"
             else np.sort(tris[s[2]], axis=1))
        if len(f):
            faces[name] = f
    # one id per distinct triangle, over the tetrahedra's faces and every face set
    rows, inv = np.unique(np.concatenate([uniq, *faces.values()]), axis=0, return_inverse=True)
    inv = inv.ravel()
    valid = np.zeros(len(rows), bool)
    valid[inv[:len(uniq)]] = True
    interior = np.zeros(len(rows), bool)
    interior[inv[:len(uniq)][counts == 2]] = True
    inner = {}
    tag, start, owner = np.zeros(len(rows), np.int32), len(uniq), {}
    for name, f in faces.items():
        ids = inv[start:start + len(f)]
        start += len(f)
        if not valid[ids].all():
            raise MeshImportError(f"{where}: {int((~valid[ids]).sum())} triangles of the set "
                                  f"'{name}' are not faces of the volume cells; expected faces "
                                  "on the volume mesh (same nodes)")
        t = len(groups) + 1
        clash = (tag[ids] != 0) & (tag[ids] != t)
        if clash.any():
            raise MeshImportError(f"{where}: faces in both the sets "
                                  f"'{owner[int(tag[ids][clash][0])]}' and '{name}'; expected "
                                  f"each face triangle in one face group{hint}")
        tag[ids], owner[t] = t, name
        groups[name], dims[name] = t, 2
        inner[name] = int(interior[ids].sum())
    return rows[tag > 0], tag[tag > 0], inner
