"""Benchmarks: `make bench` runs them all and prints figures next to their targets.

They measure; they never fail a build. Each module has `run()` yielding `Figure`s.
"""

from dataclasses import dataclass


@dataclass
class Figure:
    label: str
    value: float
    unit: str
    target: str = ""

    def line(self) -> str:
        target = f"  (target: {self.target})" if self.target else ""
        return f"{self.label:<58} {self.value:>10.3f} {self.unit}{target}"
