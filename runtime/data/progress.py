"""The progress bars of `batches()` loops, drawn by rich on stderr.

All loops running at once (an epoch's loop and the validation loop inside
it) share one live display, a line each: the epoch, the bar, batches done,
the rate, the ETA and the last recorded metric. A loop's line is erased when
the loop ends, also on `break`, an error or Ctrl-C. Text the program prints
to a terminal while a bar shows is written above the bars, never into them;
printed to a pipe or a file it is left alone (the bars are on stderr).
"""
from __future__ import annotations

import contextlib
import time

REDRAW_SECONDS = 0.1  # at most ~10 redraws a second keeps the bar cheap


def is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _Live:
    """The one rich Progress shown while any loop's bar is open."""

    def __init__(self):
        self.progress = None
        self.tasks = 0
        self.last_redraw = 0.0

    def add(self, total: int, stream, epoch, status) -> int:
        if self.progress is None:
            self.progress = _new_progress(stream)
            self.progress.start()
        self.tasks += 1
        return self.progress.add_task("", total=total, epoch=f"epoch {epoch}" if epoch else "",
                                      status=status)

    def advance(self, task: int, done: int, total: int) -> None:
        self.progress.update(task, completed=done)
        now = time.monotonic()
        if now - self.last_redraw >= REDRAW_SECONDS or done == total:
            self.last_redraw = now
            self.progress.refresh()

    def remove(self, task: int) -> None:
        self.progress.remove_task(task)
        self.tasks -= 1
        if self.tasks == 0:
            self.progress.stop()        # transient: the lines are erased
            self.progress = None
        else:
            self.progress.refresh()


LIVE = _Live()


def active() -> bool:
    return LIVE.progress is not None


class Bar:
    """One loop's line: `update(done)` after each batch, `close()` at the end."""

    def __init__(self, total: int, stream, epoch=None, status=None):
        self.total = total
        self.task = LIVE.add(total, stream, epoch, status or (lambda: ""))

    def update(self, done: int) -> None:
        LIVE.advance(self.task, done, self.total)

    def close(self) -> None:
        LIVE.remove(self.task)


@contextlib.contextmanager
def above_bars(out):
    """Write to `out` with the bars lifted off the terminal meanwhile."""
    live = LIVE.progress
    if live is None or not is_terminal(out):
        yield
        return
    live.stop()
    try:
        yield
        out.flush()
    finally:
        live.start()


def _new_progress(stream):
    # rich is imported here: a run without a terminal never loads it
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                               TextColumn, TimeRemainingColumn)
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Batches a second, as the loop has gone so far."""

        def render(self, task):
            elapsed = task.elapsed or 0.0
            rate = task.completed / elapsed if elapsed > 0 else 0.0
            return Text(f"{rate:.1f} batches/s")

    class StatusColumn(ProgressColumn):
        """The last recorded metric, as the loop's `status()` tells it."""

        def render(self, task):
            return Text(task.fields["status"](), no_wrap=True, overflow="ellipsis")

    console = Console(file=stream, force_terminal=True, force_jupyter=False, highlight=False,
                      emoji=False, markup=False)
    return Progress(TextColumn("{task.fields[epoch]}"), BarColumn(bar_width=20), MofNCompleteColumn(),
                    RateColumn(), TextColumn("ETA"), TimeRemainingColumn(), StatusColumn(),
                    console=console, auto_refresh=False, transient=True,
                    redirect_stdout=False, redirect_stderr=False)
