"""``make bench``: SharedClient's performance against a private Dovecot (and Postfix), one line per metric.

    QT_QPA_PLATFORM=offscreen python -m tests.benchmarks.run [--smoke] [--out FILE] [--messages N] ...

Prints ``name value unit target verdict`` per metric (each value the median of several runs, except where
the name says p95/max) and writes the same as JSON (default ``tests/benchmarks/results/latest.json``).
A missed target is reported as MISS, never hidden; the exit status is 0 whenever every metric was
measured (or honestly reported as not measured), and 1 when the benchmark itself broke.
``--smoke`` runs tiny sizes (500 messages, 1k-row caches, one run each) for the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from sharedclient.devservers.dovecot import DovecotUnavailable  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXIT_UNAVAILABLE = 3  # Dovecot cannot run here (not installed): nothing to measure against
DEFAULT_OUT = REPO / "tests" / "benchmarks" / "results" / "latest.json"

#: (name, unit, target as text, check(value) -> passed or None for "no target")
SPECS: dict[str, tuple[str, str, Callable[[float], bool] | None]] = {
    "raw_fetch": ("s", "-", None),
    "initial_sync": ("s", "-", None),
    "initial_sync_ratio": ("x", "<=2.0", lambda v: v <= 2.0),
    "resync_nochange": ("s", "<=0.5", lambda v: v <= 0.5),
    "resync_1pct": ("s", "-", None),
    "reopen_100k": ("s", "<=0.3", lambda v: v <= 0.3),
    "scroll_jump": ("s", "<=0.05", lambda v: v <= 0.05),
    "ui_stall_max": ("s", "<=0.1", lambda v: v <= 0.1),
    "cold_start": ("s", "<=1.0", lambda v: v <= 1.0),
    "history_search_p95": ("s", "-", None),
    "history_open": ("s", "-", None),
    "send_latency_median": ("s", "-", None),
    "send_latency_p95": ("s", "-", None),
    "rss_peak": ("MB", "<=300", lambda v: v <= 300),
}
METRICS = tuple(SPECS)


@dataclass
class Metric:
    name: str
    value: float | None
    unit: str
    target: str
    verdict: str
    runs: list[float] = field(default_factory=list)
    note: str = ""

    def line(self) -> str:
        value = "n/a" if self.value is None else _fmt(self.value)
        return f"{self.name:<20} {value:>10} {self.unit:<3} {self.target:<7} {self.verdict}"


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.3f}"
    return f"{value:.4f}"


@dataclass
class Sizes:
    messages: int = 50_000
    big_rows: int = 100_000
    history_rows: int = 1_000_000
    sends: int = 100
    runs: int = 3  # expensive measurements (initial sync, GUI sync, RSS)
    quick_runs: int = 5  # cheap ones (raw fetch, resyncs, reopen/scroll, cold start)
    warmups: int = 2
    history_searches: int = 60

    @classmethod
    def smoke(cls) -> Sizes:
        return cls(messages=500, big_rows=1000, history_rows=1000, sends=3, runs=1, quick_runs=1, warmups=1,
                   history_searches=5)


class Report:
    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}
        self.info: dict[str, object] = {}

    def add(self, name: str, runs: list[float], *, value: float | None = None, note: str = "") -> Metric:
        unit, target, check = SPECS[name]
        if value is None:
            value = statistics.median(runs)
        verdict = "info" if check is None else ("PASS" if check(value) else "MISS")
        metric = Metric(name, value, unit, target, verdict, [round(r, 6) for r in runs], note)
        self.metrics[name] = metric
        print(metric.line(), flush=True)
        return metric

    def not_measured(self, name: str, why: str) -> None:
        unit, target, _ = SPECS[name]
        metric = Metric(name, None, unit, target, f"not measured: {why}")
        self.metrics[name] = metric
        print(metric.line(), flush=True)

    def detail(self, text: str) -> None:
        """Context lines (split analysis, seeding) go to stderr so stdout stays one line per metric."""
        print(f"  # {text}", file=sys.stderr, flush=True)


def machine() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    import sqlite3

    from PySide6 import __version__ as pyside_version

    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "pyside6": pyside_version,
        "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
    }


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


# ---------------------------------------------------------------------------------- phases


def offline_ui_phase(report: Report, sizes: Sizes, work: Path) -> None:
    from tests.benchmarks.ui_metrics import BIG_FOLDERS, build_big_cache, reopen_and_scroll

    big = work / "big" / "cache-alice.sqlite"
    built = build_big_cache(big, sizes.big_rows)
    report.info["big_cache"] = {"rows_per_folder": sizes.big_rows, "folders": len(BIG_FOLDERS), "build_s": built,
                                "file_mb": big.stat().st_size / 1e6}
    report.detail(f"built a {len(BIG_FOLDERS)} x {sizes.big_rows:,}-row cache in {built:.1f} s "
                  f"({big.stat().st_size / 1e6:.0f} MB)")
    reopen, scroll, rows = reopen_and_scroll(big, sizes.quick_runs)
    report.add("reopen_100k", reopen, note=f"{rows:,} rows")
    report.add("scroll_jump", scroll)
    peaks = []
    for _ in range(sizes.runs):
        out = _child(["rss", str(big.parent), *BIG_FOLDERS], timeout=300)
        fields = out.split()
        peaks.append(int(fields[fields.index("RSS") + 1]) / 2**20)
        report.info["rss_after_window_shown_mb"] = int(fields[fields.index("SHOWN_RSS") + 1]) / 2**20
    report.add("rss_peak", peaks, value=max(peaks), note="max of runs, MiB")


def server_phase(report: Report, sizes: Sizes, work: Path, send_core: object | None) -> None:
    from tests.benchmarks import imap_metrics as im
    from tests.benchmarks.servers import bench_servers, seed_shared_inbox
    from tests.benchmarks.ui_metrics import ui_stall

    n = sizes.messages
    with bench_servers(work / "servers", postfix=send_core is not None) as world:
        seeded = seed_shared_inbox(world, n)
        report.info["seed"] = seeded
        report.detail(f"seeded {n:,} messages ({seeded['bytes'] / 1e6:.0f} MB) in "
                      f"{seeded['pool_s'] + seeded['write_s'] + seeded['index_s']:.1f} s "
                      f"(pool {seeded['pool_s']:.1f}, maildir {seeded['write_s']:.1f}, index {seeded['index_s']:.1f})")
        raw, wire_bytes = im.raw_fetch(world, sizes.quick_runs, sizes.warmups, n)
        report.info["raw_fetch_bytes"] = wire_bytes
        raw_metric = report.add("raw_fetch", raw)
        syncs, cache_path = im.initial_sync(world, sizes.runs, work, n)
        sync_metric = report.add("initial_sync", syncs)
        report.add("initial_sync_ratio", [s / raw_metric.value for s in syncs],  # type: ignore[operator]
                   value=sync_metric.value / raw_metric.value)  # type: ignore[operator]
        split = im.split_initial_sync(world, work, n)
        report.info["initial_sync_split"] = {**asdict(split), "other": split.other}
        per = 1e6 / n
        report.detail(
            f"split of one instrumented initial sync ({split.total:.2f} s): reading+parsing the FETCH {split.fetch:.2f} s "
            f"({split.fetch * per:.0f} us/msg), summarise (or wait for the helper) {split.summarise:.2f} s "
            f"({split.summarise * per:.0f} us/msg), SQLite {split.sqlite:.2f} s ({split.sqlite * per:.0f} us/msg; "
            f"the same rows without FTS {split.sqlite_without_fts:.2f} s), other {split.other:.2f} s"
        )
        report.add("resync_nochange", im.resync_nochange(world, cache_path, sizes.quick_runs))
        report.add("resync_1pct", im.resync_changed(world, cache_path, sizes.quick_runs, n))

        stalls, gui_syncs, worst, reloads = [], [], [], []
        for i in range(sizes.runs):
            stall = ui_stall(world, work / f"gui-{i}", n)
            stalls.append(stall.longest)
            gui_syncs.append(stall.sync_s)
            worst.append([(round(at, 3), round(gap, 4)) for at, gap in stall.worst])
            reloads.append(stall.reload_s)
            shutil.rmtree(work / f"gui-{i}", ignore_errors=True)
        report.info["gui_initial_sync_s"] = gui_syncs
        report.info["ui_stall_worst_gaps"] = worst  # (seconds after selecting the folder, gap) per run
        report.info["gui_list_reload_after_sync_s"] = reloads
        report.detail(f"GUI sync of {n:,} messages took {statistics.median(gui_syncs):.1f} s (median); "
                      f"longest heartbeat gaps (s after selecting: gap): {worst[stalls.index(max(stalls))]}; "
                      f"the list's reload after the sync took {statistics.median(reloads) * 1000:.0f} ms (median)")
        report.add("ui_stall_max", stalls, value=max(stalls), note="max of runs")

        cold = cold_start_runs(world, cache_path, work, sizes.quick_runs)
        report.add("cold_start", cold)

        if send_core is None:
            report.not_measured("send_latency_median", "send core not built yet")
            report.not_measured("send_latency_p95", "send core not built yet")
        elif world.postfix is None:
            why = f"Postfix unavailable ({world.postfix_problem})"
            report.not_measured("send_latency_median", why)
            report.not_measured("send_latency_p95", why)
        else:
            from tests.benchmarks.send_metrics import send_latencies

            to_250, to_done = send_latencies(world, work / "send", sizes.sends)
            report.info["send_complete_s"] = {"median": statistics.median(to_done), "p95": p95(to_done)}
            report.detail(f"{len(to_250)} sends: to the committed 250 median {statistics.median(to_250) * 1000:.0f} ms; "
                          f"including the team copy in support@'s Sent median {statistics.median(to_done) * 1000:.0f} ms, "
                          f"p95 {p95(to_done) * 1000:.0f} ms")
            report.add("send_latency_median", to_250, note="send() to the committed 250")
            report.add("send_latency_p95", to_250, value=p95(to_250), note=f"{len(to_250)} sends")


def cold_start_runs(world: object, cache_path: Path, work: Path, runs: int) -> list[float]:
    from sharedclient.core.profiles import ProfileStore
    from sharedclient.core.settings import Settings
    from tests.benchmarks.imap_metrics import copy_db
    from tests.benchmarks.servers import ALICE, password

    basedir = work / "coldstart"
    profile = ProfileStore(basedir).create("bench")
    profile.save(Settings(accounts=(world.account(),)))  # type: ignore[attr-defined]
    copy_db(cache_path, profile.data_dir / "cache-alice.sqlite")
    env = _child_env()
    times = []
    for i in range(runs + 1):  # the first start compiles and caches bytecode; not counted
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "tests.benchmarks.child", "coldstart", str(basedir), "bench", password(ALICE)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
        )
        shown = [line for line in proc.stdout.splitlines() if line.startswith("SHOWN ")]
        if not shown:
            raise RuntimeError(f"cold start child failed ({proc.returncode}): {proc.stdout}\n{proc.stderr[-3000:]}")
        if i:
            times.append(float(shown[0].split()[1]) - started)
    return times


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed SharedClient has its bytecode cached
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _child(args: list[str], timeout: float) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.child", *args],
        cwd=REPO, env=_child_env(), capture_output=True, text=True, timeout=timeout, check=False,
    )
    if proc.returncode != 0 or "ERROR" in proc.stdout:
        raise RuntimeError(f"child {args[0]} failed ({proc.returncode}): {proc.stdout}\n{proc.stderr[-3000:]}")
    return proc.stdout


def history_phase(report: Report, sizes: Sizes, work: Path, history_api: object | None) -> None:
    if history_api is None:
        report.not_measured("history_search_p95", "history store not built yet")
        report.not_measured("history_open", "history store not built yet")
        return
    from tests.benchmarks.history_metrics import history_open, history_searches, build_history

    path, built = build_history(work / "history", sizes.history_rows)
    report.info["history_build_s"] = built
    report.detail(f"built a {sizes.history_rows:,}-row sent-as history in {built:.1f} s")
    searches = history_searches(path, sizes.history_searches)
    report.add("history_search_p95", searches, value=p95(searches), note=f"{len(searches)} searches, first page")
    report.add("history_open", history_open(path, sizes.quick_runs))


def detect_history_api() -> object | None:
    """The send path's history store, when it exists with a query API."""
    try:
        from sharedclient.core.store import history
    except ImportError:
        return None
    return history if hasattr(history, "SendHistory") and hasattr(history.SendHistory, "query") else None


def detect_send_core() -> object | None:
    try:
        from tests.benchmarks import send_metrics
    except ImportError:
        return None
    return send_metrics if send_metrics.available() else None


# ---------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run each (for the test suite)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file (default: %(default)s)")
    parser.add_argument("--messages", type=int, help="messages in the shared INBOX (default 50,000)")
    parser.add_argument("--big-rows", type=int, help="rows per cached folder for reopen/RSS (default 100,000)")
    parser.add_argument("--history-rows", type=int, help="rows in the sent-as history (default 1,000,000)")
    parser.add_argument("--runs", type=int, help="runs of the expensive measurements (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (servers' mail, caches)")
    args = parser.parse_args(argv)
    sizes = Sizes.smoke() if args.smoke else Sizes()
    for attr in ("messages", "big_rows", "history_rows", "runs"):
        if getattr(args, attr) is not None:
            setattr(sizes, attr, getattr(args, attr))

    started = time.monotonic()
    from tests.benchmarks.ui_metrics import ensure_app

    ensure_app()
    report = Report()
    report.info["machine"] = machine()
    report.info["sizes"] = asdict(sizes)
    work = Path(tempfile.mkdtemp(prefix="sharedclient-bench-"))
    work.chmod(0o755)  # as root, Dovecot's mail user must be able to enter it
    history_api = detect_history_api()
    send_core = detect_send_core()
    print(f"{'name':<20} {'value':>10} {'unit':<3} {'target':<7} verdict", flush=True)
    failed = False
    unavailable = ""
    try:
        offline_ui_phase(report, sizes, work)
        server_phase(report, sizes, work, send_core)
        history_phase(report, sizes, work, history_api)
    except DovecotUnavailable as exc:
        unavailable = exc.user_message
        print(f"servers unavailable: {unavailable}", file=sys.stderr)
    except Exception:  # noqa: BLE001 - report what was measured, then fail loudly
        failed = True
        traceback.print_exc()
    finally:
        if args.keep:
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - started
    report.info["elapsed_s"] = elapsed
    report.detail(f"benchmark finished in {elapsed:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "smoke": args.smoke,
        "metrics": {name: asdict(m) for name, m in report.metrics.items()},
        "info": report.info,
    }
    args.out.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    missing = [name for name in METRICS if name not in report.metrics]
    if missing:
        print(f"not produced: {', '.join(missing)}", file=sys.stderr)
    if unavailable:
        return EXIT_UNAVAILABLE
    return 1 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
