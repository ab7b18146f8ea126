"""Progress of the main job: which size, which method, runs left and an estimate of the time left.

On a terminal it is a tqdm bar (tqdm comes with the bench extra); when output is not a terminal (CI, a pipe,
a log file) or tqdm is missing, it is one plain line per method. Work is counted in model flops (the cost
model of experiment.flops), so the estimate weighs an 8000^3 product as more than a matrix-vector product.
"""

import sys
import time


def _fmt_seconds(s):
    if s != s or s == float("inf"):
        return "?"
    s = int(round(s))
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Progress:
    """`method(d, name, runs)` when a method starts, `advance(work)` after each of its runs, `close()` at the
    end. `total` is the work of the whole job in the same units."""

    def __init__(self, total, stream=None, bar=None):
        self.total = float(total)
        self.done = 0.0
        self.stream = stream if stream is not None else sys.stderr
        self.t0 = time.perf_counter()
        self._runs_left = 0
        self._label = ""
        self._bar = None
        use_bar = bar if bar is not None else self.stream.isatty()
        if use_bar:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(
                    total=self.total,
                    file=self.stream,
                    dynamic_ncols=True,
                    leave=False,
                    bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed} elapsed, ~{remaining} left",
                )

    def remaining_s(self):
        """Elapsed time per unit of work done so far, times the work left."""
        if self.done <= 0:
            return float("nan")
        return (time.perf_counter() - self.t0) / self.done * max(0.0, self.total - self.done)

    def method(self, d, name, runs):
        self._label = f"d={d} {name}"
        self._runs_left = runs
        if self._bar is not None:
            self._bar.set_description_str(f"{self._label} ({runs} runs left)")
        else:
            pct = 100.0 * self.done / self.total if self.total else 100.0
            print(
                f"[{pct:3.0f}%] {self._label}: {runs} runs (1 warm-up), ~{_fmt_seconds(self.remaining_s())} "
                f"left in all",
                file=self.stream,
                flush=True,
            )

    def advance(self, work):
        self.done += work
        self._runs_left -= 1
        if self._bar is not None:
            self._bar.set_description_str(f"{self._label} ({max(0, self._runs_left)} runs left)", refresh=False)
            self._bar.update(work)

    def skip(self, work):
        """Work planned but not run (a slow method gets fewer runs)."""
        self.done += work
        if self._bar is not None:
            self._bar.update(work)

    def write(self, text):
        """A line of output that does not tear the bar."""
        if self._bar is not None:
            self._bar.write(text, file=sys.stdout)
        else:
            print(text, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
