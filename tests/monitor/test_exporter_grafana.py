"""deploy/grafana/ds01.json: valid JSON, and a panel for every series the exporter serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "ds01.json"
EXPORTER = REPO / "src" / "ds01" / "monitor" / "exporter.py"


def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))


def exported_names() -> set[str]:
    """Every metric family name the exporter source declares (each a "ds01_..." literal)."""
    names = set(re.findall(r'"(ds01_[a-z_]+)"', EXPORTER.read_text()))
    assert len(names) >= 15
    return names


def test_dashboard_is_valid_json_with_unique_panel_ids():
    board = json.loads(DASHBOARD.read_text())
    assert board["title"] and board["uid"]
    ids = [p["id"] for p in panels(board["panels"])]
    assert len(ids) == len(set(ids))
    for p in panels(board["panels"]):
        if p["type"] != "row":
            assert p["title"] and p["targets"], p["title"]
            assert all(t["expr"] and t["refId"] for t in p["targets"])


def test_every_exported_series_has_a_panel():
    board = json.loads(DASHBOARD.read_text())
    exprs = " ".join(t["expr"] for p in panels(board["panels"]) for t in p.get("targets", []))
    for name in sorted(exported_names()):
        assert re.search(rf"\b{name}(_bucket|_count|_sum)?\b", exprs), f"no panel shows {name}"
