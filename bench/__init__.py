"""Benchmarks: `make bench` runs them all and prints figures next to their targets.

They measure; they never fail a build. Each module has `run()` yielding `Figure`s. A figure that
has a baseline measured in the same run (a plain COPY for ingestion, a cold full training for the
cache) carries it, and its line shows the ratio too. A bench that cannot run on these settings
yields `Skipped`, which says why.
"""

from dataclasses import dataclass


@dataclass
class Figure:
    label: str
    value: float
    unit: str
    target: str = ""
    baseline: float | None = None  # the same quantity measured another way in the same run
    baseline_label: str = ""  # what the baseline is, e.g. "COPY"

    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def line(self) -> str:
        ratio = self.ratio()
        against = ""
        if ratio is not None:
            against = f"  = {ratio:.2f}x {self.baseline_label or 'baseline'}"
        target = f"  (target: {self.target})" if self.target else ""
        return f"{self.label:<58} {self.value:>10.3f} {self.unit}{against}{target}"


@dataclass
class Skipped:
    label: str
    reason: str

    def line(self) -> str:
        return f"{self.label:<58} skipped: {self.reason}"
