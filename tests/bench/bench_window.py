"""Responsiveness of the window: the longest event-loop stall during a full demo evaluation and while the
saved session is opened again, the demo's time to first paint, and the time a saved session takes to open.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/bench_window.py [--runs 3] [--n-samples 1000]
    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/bench_window.py --n-samples 50000

Each run is a fresh process that starts the app exactly as ``genloupe`` with no arguments does
(``genloupe.app.cli.main([])``: build the window, show it, open the first demo model, 1000 samples)
on an empty config and feature cache. When the session is shown, the run opens the session file the
evaluation saved (File ▸ Open session) and times it until every plot holds its points. A probe, a 10 ms
QTimer, records the gaps between its ticks from the first paint until the reopened session is drawn;
the stall is the longest gap less the 10 ms interval. To find what a stall is made of, the run also times every event Qt dispatches in the GUI
thread (slow ones are listed by receiver and event type) and the GUI-thread handlers of the
evaluation (named), and records the garbage collector's passes (a full pass over everything the
imports made held the GIL for 120-250 ms before app.main_window.run_app froze those objects). A stall
that none of these explains is time the GUI thread waited for the GIL held by the worker.

First paint is measured twice: from the moment the parent spawned the process (interpreter start
and imports included, what a person waits for) and from the call of build_window(); the imports
(the CLI's subcommands and the window's modules: torch, scipy, pyqtgraph, PySide6) are timed apart.
Prints JSON: every run, and the medians.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import wraps

import numpy as np

PROBE_INTERVAL_MS = 10
SLOW_EVENT_MS = 20  # events longer than this are listed
TRACKED_EVENT_MS = 2  # events longer than this are kept to explain the longest stall
TARGETS = {"stall_ms": 100.0, "first_paint_from_launch_s": 1.5, "session_open_s": 3.0}


def child(launched_at: float, n_samples: int, model: str, timeout_s: int) -> dict:
    """One cold start of the app, probed; returns the figures of this run."""
    started_at, t0 = time.time(), time.perf_counter()
    from PySide6.QtCore import QEvent, QObject, Qt, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    events: list[dict] = []
    depth = [0]

    class ProbedApplication(QApplication):
        """Times every event dispatched in the GUI thread (nested dispatches included, with their depth)."""

        def notify(self, receiver, event):  # noqa: N802 (Qt naming)
            depth[0] += 1
            start = time.perf_counter()
            try:
                return super().notify(receiver, event)
            finally:
                depth[0] -= 1
                ms = (time.perf_counter() - start) * 1000
                if ms >= TRACKED_EVENT_MS:
                    events.append({"start": start, "ms": round(ms, 1), "depth": depth[0], "event": event.type().name,
                                   "receiver": _describe(receiver)})

    collections: list[dict] = []  # cyclic garbage collections, in any thread: they hold the GIL

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append({"start": time.perf_counter(), "generation": info["generation"]})
        else:
            collections[-1]["ms"] = (time.perf_counter() - collections[-1]["start"]) * 1000

    gc.callbacks.append(on_gc)
    app = ProbedApplication(sys.argv[:1])

    from genloupe.app import controller as controller_module
    from genloupe.app import main_window as main_window_module
    from genloupe.widgets import jobs_panel as jobs_panel_module

    handlers: dict[str, list[float]] = {}

    def timed(name: str, function):
        @wraps(function)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                handlers.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return wrapper

    # GUI-thread handlers of an evaluation; patched on the classes before the window connects them.
    for owner, name in ((main_window_module.MainWindow, "_show_samples"), (main_window_module.MainWindow, "_show_session"),
                        (main_window_module.MainWindow, "_show_histogram"), (main_window_module.MainWindow, "_show_manifold"),
                        (main_window_module.MainWindow, "_show_scatter"), (main_window_module.MainWindow, "_update_status"),
                        (controller_module.Controller, "open_session"), (controller_module.Controller, "_show"),
                        (jobs_panel_module.JobsPanel, "update_job"), (main_window_module.MetricsPanel, "set_metrics"),
                        (main_window_module.SampleGrid, "set_data"), (main_window_module.SampleGrid, "sort_by"),
                        (main_window_module.HistogramView, "set_prepared"), (main_window_module.ManifoldView, "set_prepared"),
                        (main_window_module.QualityScatter, "set_prepared")):
        setattr(owner, name, timed(f"{owner.__name__}.{name}", getattr(owner, name)))
    # in a worker: the session file read back and the plots prepared (not GUI-thread time)
    controller_module.read_session = timed("read_session (worker)", controller_module.read_session)

    state: dict = {"ticks": [], "stages": []}
    build_window = main_window_module.build_window

    def timed_build_window(*args, **kwargs):
        state["build_window_at"] = time.perf_counter()
        return build_window(*args, **kwargs)

    main_window_module.build_window = timed_build_window

    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_INTERVAL_MS)

    def tick() -> None:
        now = time.perf_counter()
        window = state.get("window")
        stage = ""
        if window is not None and "evaluate" in window.jobs_panel.kinds():
            stage = window.jobs_panel.row("evaluate").stage.text()
        if "reopened_at" in state and "drawn_at" not in state and window.scatter.n == n_samples \
                and window.manifold.point_count() == n_samples:
            state["drawn_at"] = now
            QTimer.singleShot(300, app.quit)  # let the views paint, still probed
        state["ticks"].append((now, stage or ("reopening the session" if "reopen_at" in state else "")))

    probe.timeout.connect(tick)

    def on_session(_view) -> None:
        if "session_at" not in state:
            state["session_at"] = time.perf_counter()
            QTimer.singleShot(500, reopen)  # let the views paint the session, still probed
        else:
            state["reopened_at"] = time.perf_counter()

    def reopen() -> None:
        window = state["window"]
        window.scatter.set_data([], [])  # so that "drawn" means drawn again
        window.manifold.set_data(np.empty((0, 2)), np.empty((0, 2)))
        state["reopen_at"] = time.perf_counter()
        window.controller.open_session(window.controller.session.path)  # what File ▸ Open session does

    def on_failed(message: str) -> None:
        state["error"] = message
        app.quit()

    class FirstPaint(QObject):
        def eventFilter(self, watched, event):  # noqa: N802 (Qt naming)
            if event.type() == QEvent.Type.Paint and isinstance(watched, QMainWindow) and "window" not in state:
                state["first_paint_at"] = time.perf_counter()
                state["first_paint_wall"] = time.time()
                state["window"] = watched
                watched.controller.sessionLoaded.connect(on_session)
                watched.controller.failed.connect(on_failed)
                watched.controller.samplesArrived.connect(lambda *_: state.setdefault("samples_at", time.perf_counter()))
                probe.start()
            return False

    first_paint = FirstPaint()
    app.installEventFilter(first_paint)
    QTimer.singleShot(timeout_s * 1000, app.quit)
    controller_module.Controller.__init__ = _with_samples(controller_module.Controller.__init__, n_samples)
    demo_models = main_window_module.DEMO_MODELS  # the window opens the first: put the chosen one first
    reordered = {model: demo_models[model], **{k: v for k, v in demo_models.items() if k != model}}
    demo_models.clear()
    demo_models.update(reordered)
    from genloupe.app.cli import main as genloupe

    genloupe([])  # what `genloupe` with no arguments does
    probe.stop()
    if "error" in state or "drawn_at" not in state:
        raise SystemExit(f"the demo evaluation or the reopening did not finish: {state.get('error', 'timed out')}")

    ticks = [t for t, _ in state["ticks"]]
    gaps = [(b - a, stage, a, b) for (a, _), (b, stage) in zip(state["ticks"], state["ticks"][1:])]
    longest, stage, start, end = max(gaps)
    inside = [e for e in events if e["depth"] == 0 and e["start"] < end and e["start"] + e["ms"] / 1000 > start]
    explained = sum(min(end, e["start"] + e["ms"] / 1000) - max(start, e["start"]) for e in inside) * 1000
    return {
        "n_samples": n_samples,
        "first_paint_from_launch_s": round(state["first_paint_wall"] - launched_at, 3),
        "first_paint_from_build_window_s": round(state["first_paint_at"] - state["build_window_at"], 3),
        "interpreter_start_s": round(started_at - launched_at, 3),
        "imports_s": round(state["build_window_at"] - t0, 3),
        "samples_shown_from_first_paint_s": round(state["samples_at"] - state["first_paint_at"], 3),
        "session_shown_from_first_paint_s": round(state["session_at"] - state["first_paint_at"], 3),
        "session_open_s": round(state["drawn_at"] - state["reopen_at"], 3),
        "probe_ticks": len(ticks),
        "stall_ms": round(longest * 1000 - PROBE_INTERVAL_MS, 1),
        "stall_during_stage": stage,
        "stall_at_s_after_first_paint": round(start - state["first_paint_at"], 3),
        "stall_explained_by_gui_events_ms": round(explained, 1),
        "stall_events": [_event_text(e, t0) for e in sorted(inside, key=lambda e: -e["ms"])[:6]],
        "stall_garbage_collections": [f"{c['ms']:.1f} ms generation {c['generation']}" for c in collections
                                      if "ms" in c and c["start"] < end and c["start"] + c["ms"] / 1000 > start],
        "gc_longest_after_first_paint_ms": round(max((c.get("ms", 0) for c in collections
                                                      if c["start"] >= state["first_paint_at"]), default=0), 1),
        "stalls_over_50ms": sum(gap * 1000 - PROBE_INTERVAL_MS > 50 for gap, *_ in gaps),
        "slowest_events": [_event_text(e, t0) for e in sorted(events, key=lambda e: -e["ms"]) if e["ms"] >= SLOW_EVENT_MS][:8],
        "handlers_ms": {name: {"calls": len(v), "max": round(max(v), 1), "total": round(sum(v), 1)}
                        for name, v in sorted(handlers.items())},
    }


def _describe(receiver) -> str:
    """The receiver's class; a plot's scene is named by the view that holds the plot."""
    name = type(receiver).__name__
    views = receiver.views() if hasattr(receiver, "views") else []
    if views and views[0].parentWidget() is not None:
        name += f" of {type(views[0].parentWidget()).__name__}"
    return name


def _event_text(event: dict, t0: float) -> str:
    return (f"{event['ms']:.1f} ms {event['event']} to {event['receiver']} (depth {event['depth']}, "
            f"at {event['start'] - t0:.3f} s)")


def _with_samples(init, n_samples: int):
    """Controller.__init__ that sets n_samples (run_app builds its own controller)."""

    @wraps(init)
    def wrapper(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.n_samples = n_samples

    return wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--model", default="flow (RealNVP)", help="demo model the window opens (toolbar names)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds a run may take")
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)  # launch time, set by the parent
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.n_samples, args.model, args.timeout)))
        return 0

    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="genloupe-bench-") as scratch:
            env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                   "GENLOUPE_CONFIG_DIR": os.path.join(scratch, "config"),
                   "GENLOUPE_CACHE_DIR": os.path.join(scratch, "cache")}
            launched = time.time()
            done = subprocess.run([sys.executable, __file__, "--child", repr(launched), "--n-samples", str(args.n_samples),
                                   "--model", args.model, "--timeout", str(args.timeout)],
                                  env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            return done.returncode
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))

    medians = {key: statistics.median(run[key] for run in runs)
               for key in ("stall_ms", "first_paint_from_launch_s", "first_paint_from_build_window_s", "imports_s",
                           "samples_shown_from_first_paint_s", "session_shown_from_first_paint_s", "session_open_s")}
    print(json.dumps({
        "benchmark": "window responsiveness during a full demo evaluation (`genloupe` with no arguments, offscreen) "
                     "and the reopening of its saved session",
        "n_samples": args.n_samples,
        "model": args.model,
        "cpus": os.cpu_count(),
        "probe": f"{PROBE_INTERVAL_MS} ms QTimer; stall = longest gap between ticks - {PROBE_INTERVAL_MS} ms",
        "targets": TARGETS,
        "median": medians,
        "meets_targets": {key: medians[key] <= target for key, target in TARGETS.items()},
        "runs": runs,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
