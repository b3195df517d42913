"""Minibatches in order, as views, with a progress bar in terminals only."""

import operator
import sys

from runtime.data import progress as P
from runtime.data.errors import DataError


class Batches:
    """The minibatches of a split: len() is their number, iterating yields
    (x, y) views in order, the last one short when size does not divide."""

    def __init__(self, split, size, progress=None, drop_last=False, epoch=None, status=None):
        self.x, self.y = _arrays(split)
        self.size = _positive_int(size)
        self.progress = progress
        self.drop_last = drop_last
        self.epoch, self.status = epoch, status     # shown on the bar

    def __len__(self):
        if self.drop_last:      # only full batches, as the Theano tutorials use
            return len(self.y) // self.size
        return -(-len(self.y) // self.size)  # ceiling: the short batch counts

    def __iter__(self):
        # Decide at iteration time, so a redirected stderr is seen as it is then.
        show = P.is_terminal(sys.stderr) if self.progress is None else bool(self.progress)
        bar = P.Bar(len(self), sys.stderr, self.epoch, self.status) if show else None
        try:
            for i in range(len(self)):
                lo = i * self.size
                # Basic slicing makes views: a batch never copies the data.
                yield self.x[lo:lo + self.size], self.y[lo:lo + self.size]
                if bar:
                    bar.update(i + 1)
        finally:
            if bar:  # also on break or an error inside the loop body
                bar.close()


def batches(split, size, progress=None, drop_last=False, epoch=None, status=None):
    """Minibatches of `split` (a Split, or an (x, y) pair) of `size` rows.
    progress: None = a bar when stderr is a terminal, True/False = force.
    drop_last: leave out the short last batch. epoch (a number) and
    status() (a short text, such as the last metric) are shown on the bar."""
    return Batches(split, size, progress, drop_last, epoch, status)


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
