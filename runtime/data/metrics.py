"""Metric series recorded by a program (`record("name", value)`), for
`--metrics` (CSV) and `--plot` (PNG)."""

import csv
import io
import math

from runtime.data.errors import DataError
from runtime.data.files import write_atomically

PLOT_HINT = "pip install 'sym[plot]'  (or: pip install matplotlib)"


class Metrics:
    """Named series of (step, value) points, kept in recording order."""

    def __init__(self):
        self.series = {}  # name -> list of (step, value)
        self.latest = None  # (name, value) last recorded

    def record(self, name, value, step=None):
        """Add a point; step None means one past this series' last step (from 0)."""
        try:
            value = float(value)  # host numbers, numpy scalars, 0-d arrays
        except (TypeError, ValueError):
            raise DataError(f"record(\"{name}\", ...) needs a number, got "
                            f"{type(value).__name__}") from None
        points = self.series.setdefault(name, [])
        if step is None:
            step = points[-1][0] + 1 if points else 0
        points.append((step, value))
        self.latest = (name, value)

    def latest_text(self) -> str:
        """`validation error 12.46`: the last point recorded, for a progress bar."""
        return "" if self.latest is None else f"{self.latest[0]} {self.latest[1]:.4g}"

    def write_csv(self, path, program=None):
        """Columns name, step, value; one row per point. Written atomically;
        `program` is the source file never overwritten."""
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["name", "step", "value"])
        for name, points in self.series.items():
            for step, value in points:
                writer.writerow([name, step, repr(value)])
        data = text.getvalue().encode("utf-8")
        write_atomically(path, lambda f: f.write(data), "metrics", program)

    def plot(self, path, program=None):
        """One subplot per series (their scales differ: a cost vs an error
        rate), each against its steps, into one PNG, written atomically."""
        Figure, FigureCanvasAgg, MaxNLocator = _matplotlib()
        if not self.series:
            raise DataError("--plot: the program recorded no metrics",
                            hint="call record(\"name\", value) in the program")
        n = len(self.series)
        fig = Figure(figsize=(6.4, 2.4 * n), layout="constrained")
        FigureCanvasAgg(fig)
        for ax, (name, points) in zip(fig.subplots(n, 1, squeeze=False)[:, 0],
                                      self.series.items()):
            steps = [s for s, _ in points]
            # inf would wreck the autoscaled axes; nan just leaves a gap
            values = [v if math.isfinite(v) else math.nan for _, v in points]
            ax.plot(steps, values, marker="." if len(points) < 50 else None)
            ax.set_title(name)
            ax.set_xlabel("step")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are counts
            ax.grid(True, alpha=0.3)
        write_atomically(path, lambda f: fig.savefig(f, format="png"), "plot", program)


def _matplotlib():
    """Imported only for --plot; Figure + FigureCanvasAgg is the Agg backend
    without touching pyplot's global state."""
    try:        # lazy: matplotlib is optional and slow to import; only plots need it
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise DataError("--plot needs matplotlib", hint=PLOT_HINT) from None
    return Figure, FigureCanvasAgg, MaxNLocator
