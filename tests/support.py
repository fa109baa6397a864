"""Checks shared by tests in more than one folder (tests/ is on sys.path through conftest.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_notebook(name: str, config_path: Path, out_dir: Path, executed: Path, **parameters) -> dict:
    """Run ``notebooks/NAME.ipynb`` under papermill with the given config and output folder (plus any
    other parameters) and return the ``summary.json`` it published."""
    import papermill

    notebook = NOTEBOOKS / f"{name}.ipynb"
    papermill.execute_notebook(str(notebook), str(executed), cwd=str(NOTEBOOKS), kernel_name="python3",
                               parameters={"config_path": str(config_path), "output_dir": str(out_dir),
                                           **parameters})
    return json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))


def rook_pieces(polygons, locality_of, links=None) -> dict:
    """Number of edge-connected pieces per locality, from the polygons alone (shapely, EPSG:27700),
    plus the published explicit links (``a, b`` pairs: islands, corner-only joins, pieces of a ward)."""
    import networkx as nx
    import shapely

    gdf = polygons.to_crs(27700).reset_index(drop=True)
    geoms = gdf.geometry.values
    codes = gdf["lsoa_code"].tolist()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    g = nx.Graph()
    g.add_nodes_from(codes)
    for i, j in zip(left, right):
        if i < j and locality_of[codes[i]] == locality_of[codes[j]]:
            if shapely.intersection(geoms[i].boundary, geoms[j].boundary).length > 1e-6:   # a shared edge, not a point
                g.add_edge(codes[i], codes[j])
    for a, b in (links or []):
        g.add_edge(a, b)
    out = {}
    for loc in set(locality_of):
        out[loc] = nx.number_connected_components(g.subgraph([c for c in codes if locality_of[c] == loc]))
    return out


def check_adds_up(table: pd.DataFrame, fys) -> None:
    """Rows and columns of the savings table add up (used on the published table too)."""
    t = table.set_index(["workstream", "measure"])
    cols = list(fys)
    assert np.allclose(t[cols].sum(axis=1), t["All years"])
    names = [w for w in dict.fromkeys(table["workstream"]) if w != "All workstreams"]
    for m in ("Modelled saving", "Budgeted saving", "Difference"):
        parts = sum(t.loc[(w, m), cols + ["All years"]].astype(float) for w in names)
        assert np.allclose(parts, t.loc[("All workstreams", m), cols + ["All years"]].astype(float))
    for w in [*names, "All workstreams"]:
        assert np.allclose(t.loc[(w, "Modelled saving")] - t.loc[(w, "Budgeted saving")], t.loc[(w, "Difference")])
