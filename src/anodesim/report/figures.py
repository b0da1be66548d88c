"""Pictures of a report drawn from the folder's files: the geometry (from mesh.msh) and
the beam-power schedule (from the case). Every picture is a PNG as bytes; none is written
to the folder."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


def _png(fig) -> bytes:
    """The figure as PNG bytes; the figure is released."""
    from .. import output

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    output._pyplot().close(fig)
    return buf.getvalue()


def read_mesh(path: Path) -> tuple[int, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The regions and boundary groups of a gmsh mesh file.

    Returns:
        (dim, region name → (n, k, 3) element corner coordinates (m) of the cells,
        boundary name → (n, 2 or 3, 3) coordinates of the facets).
    """
    import gmsh

    started = not gmsh.isInitialized()
    if started:
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    before = gmsh.model.getCurrent() if gmsh.model.list() else None
    gmsh.model.add("anodesim-report")
    try:
        gmsh.merge(str(path))
        tags, xyz, _ = gmsh.model.mesh.getNodes()
        coords = np.zeros((int(tags.max()) + 1, 3))
        coords[tags.astype(int)] = xyz.reshape(-1, 3)
        dim = max(d for d, _ in gmsh.model.getPhysicalGroups())
        groups: dict[int, dict[str, np.ndarray]] = {dim: {}, dim - 1: {}}
        for d, tag in gmsh.model.getPhysicalGroups():
            if d not in groups:
                continue
            name = gmsh.model.getPhysicalName(d, tag)
            parts = []
            for ent in gmsh.model.getEntitiesForPhysicalGroup(d, tag):
                types, _, nodes = gmsh.model.mesh.getElements(d, ent)
                for t, n in zip(types, nodes):
                    props = gmsh.model.mesh.getElementProperties(t)
                    k, corners = props[3], props[5]  # nodes per element, corner nodes
                    conn = np.asarray(n, dtype=int).reshape(-1, k)[:, :corners]
                    parts.append(coords[conn])
            if parts:
                groups[d][name] = np.concatenate(parts)
    finally:
        gmsh.model.remove()
        if before:
            gmsh.model.setCurrent(before)
        if started:
            gmsh.finalize()
    return dim, groups[dim], groups[dim - 1]


def geometry_png(mesh_file: Path, title: str, spot_m: float | None = None) -> bytes | None:
    """The geometry and its mesh: in (r, z) the cross-section mirrored about the axis (and a
    close-up of ±10 spot sizes around the spot on the axis), in 3-D the boundary facets
    seen along y; regions coloured, named boundaries drawn over them. None when the file
    cannot be read."""
    try:
        dim, cells, facets = read_mesh(mesh_file)
    except Exception:  # noqa: BLE001 - a missing picture must not stop a report
        return None
    from .. import output

    plt = output._pyplot()
    zoom = dim == 2 and spot_m
    fig, axs = plt.subplots(1, 2 if zoom else 1, figsize=(11 if zoom else 7.5, 5.2),
                            layout="constrained", squeeze=False)
    if dim == 2:
        _draw_2d(axs[0, 0], cells, facets, plt, legend=True)
        axs[0, 0].set_title(f"{sum(len(c) for c in cells.values())} cells", fontsize=9)
        if zoom:
            top = max(c[:, :, 1].max() for c in cells.values()) * 1e3
            a = 10 * spot_m * 1e3
            _draw_2d(axs[0, 1], cells, facets, plt, legend=False)
            axs[0, 1].set_xlim(-a, a)
            axs[0, 1].set_ylim(top - a, top + 0.1 * a)
            axs[0, 1].set_title("close-up: ±10 spot sizes around the spot", fontsize=9)
    else:
        from matplotlib.collections import PolyCollection

        ax = axs[0, 0]
        colours = plt.get_cmap("tab10").colors
        bound = {n: f for n, f in facets.items() if "@" not in n}
        for j, (name, tri) in enumerate(bound.items()):
            ax.add_collection(PolyCollection(tri[:, :, [0, 2]] * 1e3, facecolor=colours[j % 10],
                                             edgecolor="k", linewidths=0.05, alpha=0.35,
                                             label=name))
        ax.set_xlabel("x (mm)")
        ax.set_ylabel("z (mm), seen along y")
        ax.autoscale_view()
        ax.set_aspect("equal")
        ax.legend(fontsize=7, loc="best")
        ax.set_title(f"{sum(len(c) for c in cells.values())} cells", fontsize=9)
    fig.suptitle(output.fit_title(title, fig.get_figwidth() - 0.2)[0], fontsize=10)
    return _png(fig)


def _draw_2d(ax, cells, facets, plt, legend: bool) -> None:
    """An (r, z) mesh mirrored about the axis, regions coloured, boundaries drawn (mm)."""
    from matplotlib.collections import LineCollection, PolyCollection

    colours = plt.get_cmap("tab10").colors
    for i, (name, tri) in enumerate(cells.items()):
        for sign in (1.0, -1.0):
            ax.add_collection(PolyCollection(
                tri[:, :, :2] * [sign * 1e3, 1e3], facecolor=colours[i % 10], edgecolor="k",
                linewidths=0.1, alpha=0.55, label=name if sign > 0 else None))
    named = [(n, s) for n, s in facets.items() if "@" not in n and n != "axis"]
    for j, (name, seg) in enumerate(named):
        ax.add_collection(LineCollection(seg[:, :, :2] * 1e3, colors=[colours[(j + 3) % 10]],
                                         linewidths=2.2, label=f"boundary {name}"))
    ax.axvline(0.0, color="0.3", lw=0.8, ls="-.")
    ax.set_xlabel("r (mm), mirrored about the axis")
    ax.set_ylabel("z (mm)")
    ax.autoscale_view()
    ax.set_aspect("equal")
    if legend:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))


def schedule_png(segments, title: str) -> bytes | None:
    """The beam power against time of a schedule of (duration s, beam power W) segments;
    None for a steady case (no segments)."""
    if not segments:
        return None
    from .. import output

    durations = np.array([d for d, _ in segments], dtype=float)
    power = np.array([p for _, p in segments], dtype=float)
    edges = np.concatenate([[0.0], np.cumsum(durations)])
    plt = output._pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 2.6), layout="constrained")
    ax.stairs(power, edges, fill=True, color="0.85")
    ax.stairs(power, edges, color="0.3", lw=1.0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("beam power (W)")
    ax.set_ylim(0, 1.15 * max(power.max(), 1e-12))
    ax.grid(True, alpha=0.3)
    ax.set_title(output.fit_title(f"{title}: {len(segments)} segment(s), {edges[-1]:.4g} s",
                                  7.5 - 0.6, 9)[0], fontsize=9)
    return _png(fig)
