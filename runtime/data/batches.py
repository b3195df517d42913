"""Minibatches in order, as views, with a progress bar in terminals only."""

import operator
import sys
import time

from runtime.data.errors import DataError

REDRAW_SECONDS = 0.1  # at most ~10 redraws a second keeps the bar cheap


class Batches:
    """The minibatches of a split: len() is their number, iterating yields
    (x, y) views in order, the last one short when size does not divide."""

    def __init__(self, split, size, progress=None, drop_last=False):
        self.x, self.y = _arrays(split)
        self.size = _positive_int(size)
        self.progress = progress
        self.drop_last = drop_last

    def __len__(self):
        if self.drop_last:      # only full batches, as the Theano tutorials use
            return len(self.y) // self.size
        return -(-len(self.y) // self.size)  # ceiling: the short batch counts

    def __iter__(self):
        # Decide at iteration time, so a redirected stderr is seen as it is then.
        show = sys.stderr.isatty() if self.progress is None else bool(self.progress)
        bar = _Bar(len(self), sys.stderr) if show else None
        try:
            for i in range(len(self)):
                lo = i * self.size
                # Basic slicing makes views: a batch never copies the data.
                yield self.x[lo:lo + self.size], self.y[lo:lo + self.size]
                if bar:
                    bar.update(i + 1)
        finally:
            if bar:  # also on break or an error inside the loop body
                bar.clear()


def batches(split, size, progress=None, drop_last=False):
    """Minibatches of `split` (a Split, or an (x, y) pair) of `size` rows.
    progress: None = a bar when stderr is a terminal, True/False = force.
    drop_last: leave out the short last batch."""
    return Batches(split, size, progress, drop_last)


def _positive_int(size):
    try:
        n = operator.index(size)  # ints and numpy integers, not floats
    except TypeError:
        n = None
    if n is None or isinstance(size, bool) or n < 1:
        raise DataError(f"batch size must be a positive integer, got {size!r}")
    return n


def _arrays(split):
    if hasattr(split, "x") and hasattr(split, "y"):
        x, y = split.x, split.y
    elif isinstance(split, tuple) and len(split) == 2:
        x, y = split
    else:
        raise DataError(f"batches() needs a split such as data.train, got "
                        f"{type(split).__name__}")
    if len(x) != len(y):
        raise DataError(f"batches(): x has {len(x)} rows but y has {len(y)}")
    return x, y


class _Bar:
    """One status line redrawn in place with \\r and erased at the end."""

    def __init__(self, total, stream):
        self.total = total
        self.stream = stream
        self.start = self.last = time.monotonic()
        self.width = 0

    def update(self, done):
        now = time.monotonic()
        if now - self.last < REDRAW_SECONDS and done < self.total:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate
        self._write(f"batch {done}/{self.total}  {rate:.1f} batches/s  ETA {_clock(eta)}")

    def clear(self):
        if self.width:
            self._write("")
            self.stream.write("\r")
            self.stream.flush()

    def _write(self, text):
        # Pad to the previous width so a shorter line leaves no leftovers.
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = max(self.width, len(text))


def _clock(seconds):
    seconds = int(seconds + 0.5)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
