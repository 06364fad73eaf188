"""The jobs bridge: results, errors and cancellation cross threads; stale generations are dropped."""

import threading
import time

from genloupe.app.jobs import Jobs
from genloupe.engine.errors import DataError


def slow_task(seconds: float, value: object):
    def task(progress):
        steps = 20
        for i in range(steps):
            progress.check()
            progress.update(i, steps, "working")
            time.sleep(seconds / steps)
        progress.update(steps, steps, "working")
        return value

    return task


def test_result_arrives_in_gui_thread(qtbot):
    jobs = Jobs()
    seen = {}
    jobs.finished.connect(lambda kind, result: seen.update(kind=kind, result=result, thread=threading.current_thread()))
    with qtbot.waitSignal(jobs.finished, timeout=5000):
        jobs.start("metrics", slow_task(0.05, 42))
    assert seen["kind"] == "metrics" and seen["result"] == 42
    assert seen["thread"] is threading.main_thread()
    assert not jobs.is_running("metrics")


def test_engine_error_becomes_a_message(qtbot):
    jobs = Jobs()

    def failing(progress):
        raise DataError("digits.npz: float arrays are not levels")

    with qtbot.waitSignal(jobs.failed, timeout=5000) as blocker:
        jobs.start("data", failing)
    assert blocker.args == ["data", "digits.npz: float arrays are not levels"]


def test_unexpected_exception_does_not_escape(qtbot):
    jobs = Jobs()
    with qtbot.waitSignal(jobs.failed, timeout=5000) as blocker:
        jobs.start("data", lambda progress: 1 / 0)
    assert "ZeroDivisionError" in blocker.args[1]


def test_new_job_of_same_kind_cancels_old_and_drops_its_result(qtbot):
    jobs = Jobs()
    results = []
    jobs.finished.connect(lambda kind, result: results.append(result))
    jobs.start("likelihood", slow_task(1.0, "old"))
    with qtbot.waitSignal(jobs.finished, timeout=5000):
        jobs.start("likelihood", slow_task(0.05, "new"))
    jobs.wait(5000)
    qtbot.wait(50)
    assert results == ["new"]


def test_cancel_stops_a_running_job(qtbot):
    jobs = Jobs()
    results, progress = [], []
    jobs.finished.connect(lambda kind, result: results.append(result))
    jobs.progressed.connect(lambda kind, done, total, stage: progress.append(done))
    jobs.start("evaluate", slow_task(2.0, "done"))
    qtbot.waitUntil(lambda: len(progress) > 0, timeout=5000)
    with qtbot.waitSignal(jobs.cancelled, timeout=1000):
        jobs.cancel("evaluate")
    started = time.monotonic()
    jobs.wait(5000)
    assert time.monotonic() - started < 1.0  # the worker stopped at its next check
    qtbot.wait(50)
    assert results == [] and not jobs.is_running("evaluate")
