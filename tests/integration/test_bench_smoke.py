"""``make bench`` in miniature (500 messages, 1k-row caches, one run each), so the benchmark code cannot rot.

Checks that every metric line is produced with a number (or, for the send path's metrics, an explicit
"not measured: <reason>"), and that the JSON file holds the same. The targets are not asserted here: tiny
sizes on a busy CI machine say nothing about them. The full benchmark is ``make bench``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks.run import EXIT_UNAVAILABLE, METRICS
from tests.conftest import servers_unavailable

pytestmark = pytest.mark.servers

REPO = Path(__file__).resolve().parents[2]
#: May be reported as not measured (with the reason): they need the send path and a Postfix (root).
MAY_BE_UNMEASURED = {"send_latency_median", "send_latency_p95", "history_search_p95", "history_open"}
LINE = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.+)$")


def test_benchmark_smoke_run_produces_every_metric(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.run", "--smoke", "--out", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=280, check=False,
    )
    if proc.returncode == EXIT_UNAVAILABLE:
        servers_unavailable(proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, f"benchmark failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}"

    lines = {}
    for text in proc.stdout.splitlines():
        match = LINE.match(text)
        if match and match.group(1) in METRICS:
            assert match.group(1) not in lines, f"{match.group(1)} reported twice"
            lines[match.group(1)] = match.groups()
    assert sorted(lines) == sorted(METRICS), proc.stdout
    for name, (_, value, unit, target, verdict) in lines.items():
        if value == "n/a":
            assert name in MAY_BE_UNMEASURED and verdict.startswith("not measured: "), (name, verdict)
        else:
            assert float(value) >= 0 and verdict in ("PASS", "MISS", "info"), (name, value, verdict)

    data = json.loads(out.read_text())
    assert data["smoke"] is True
    assert set(data["metrics"]) == set(METRICS)
    for name, metric in data["metrics"].items():
        assert (metric["value"] is None) == (lines[name][1] == "n/a")
    assert data["info"]["machine"]["nproc"] >= 1
