"""The terminal progress bar: rate and time left, one line per stage, and a clean line before an error."""

import io

from genloupe.app import progress_bar
from genloupe.app.cli import main
from genloupe.app.demo import demo_model_path
from genloupe.app.progress_bar import terminal_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_bar_shows_rate_and_time_left_then_ends_its_line():
    stream, clock = Terminal(), Clock()
    progress = terminal_progress(stream=stream, clock=clock)
    progress.update(0, 400, "likelihood")
    clock.now += 2.0
    progress.update(100, 400, "likelihood")  # 50 per second: 300 left take 6 s
    assert stream.getvalue().endswith("100/400 (50/s, 0:06 left)")
    clock.now += 6.0
    progress.update(400, 400, "likelihood")
    assert stream.getvalue().endswith("\n") and stream.getvalue().rstrip().endswith("400/400 (0:08, 50/s)")
    assert stream.getvalue().count("\n") == 1


def test_details_redraw_in_place_and_a_new_stage_starts_a_new_line():
    stream, clock = Terminal(), Clock()
    progress = terminal_progress(stream=stream, clock=clock, min_interval=0)
    for step in range(1, 4):
        clock.now += 1
        progress.update(step, 10, f"train · epoch 1 · loss {5 - step:.3f} bits/dim")
    assert stream.getvalue().count("\n") == 0 and "loss 2.000 bits/dim" in stream.getvalue()
    progress.update(1, 5, "features")
    assert stream.getvalue().count("\n") == 1  # the training line was ended before the next stage


def test_without_a_terminal_each_stage_writes_one_line_when_it_ends():
    stream, clock = io.StringIO(), Clock()
    progress = terminal_progress(stream=stream, clock=clock)
    for done in range(0, 11):
        clock.now += 0.5
        progress.update(done, 10, "sampling")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and "\r" not in stream.getvalue() and lines[0].startswith("sampling")


def test_an_error_half_way_through_a_stage_starts_on_its_own_line(monkeypatch):
    """A likelihood pass that fails a quarter of the way (here: a model error raised after its first block)."""
    from genloupe.engine import evaluation
    from genloupe.engine.errors import ModelError

    def fails_half_way(*args, progress, **kwargs):
        progress.update(0, 400, "likelihood")
        progress.update(100, 400, "likelihood")
        raise ModelError("the model returned NaN for sample 101")

    stream = Terminal()
    monkeypatch.setattr("sys.stderr", stream)
    monkeypatch.setattr(evaluation, "evaluate_likelihood", fails_half_way)
    progress_bar._open.clear()
    status = main(["evaluate", demo_model_path("flow (RealNVP)"), "--n", "20", "--device", "cpu", "--metrics", "ll"])
    text = stream.getvalue()
    assert status == 2 and "/400 (" in text.splitlines()[-2]  # the half-drawn bar, left open by the failure
    assert text.endswith("\ngenloupe evaluate: error: the model returned NaN for sample 101\n")  # not glued to it
