"""Response latency histograms with fixed buckets (pure Python).

Percentiles of a period cannot be computed from the percentiles of its days, so each rollup row
keeps a histogram of its latencies; histograms add up exactly (bucket by bucket), and a
percentile of any range of rows is read from their sum.

The buckets grow geometrically: bucket 0 holds latencies up to 10 ms, bucket k up to
10 ms * 1.15^k, the last one (`len(UPPER_MS)`) everything above about 10 minutes. Within a
bucket the percentile is interpolated linearly by rank, so it is off by less than one bucket's
width: under 15 % of the value.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

FIRST_UPPER_MS = 10
GROWTH = 1.15
#: The upper bounds (ms, inclusive) of every bucket but the last, open one.
UPPER_MS: tuple[int, ...] = tuple(
    sorted(
        {
            round(FIRST_UPPER_MS * GROWTH**k)
            for k in range(0, 80)
            if FIRST_UPPER_MS * GROWTH**k <= 600_000
        }
    )
)
OPEN_BUCKET = len(UPPER_MS)


def bucket_of(latency_ms: float) -> int:
    """The bucket of a latency: the first whose upper bound is at least it."""
    return bisect.bisect_left(UPPER_MS, latency_ms)


def upper_of(bucket: int) -> int | None:
    return UPPER_MS[bucket] if bucket < OPEN_BUCKET else None


def histogram(latencies: Iterable[float]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for value in latencies:
        index = bucket_of(value)
        counts[index] = counts.get(index, 0) + 1
    return counts


def percentile(counts: Mapping[int, int], fraction: float) -> float | None:
    """The `fraction` (0-1) percentile of a histogram {bucket: count}, None when empty."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = fraction * total  # the rank wanted, 0 < rank <= total
    seen = 0
    for index in sorted(counts):
        count = counts[index]
        if count <= 0:
            continue
        if seen + count >= rank:
            low = UPPER_MS[index - 1] if index > 0 else 0
            high = UPPER_MS[index] if index < OPEN_BUCKET else UPPER_MS[-1]
            share = (rank - seen) / count
            return round(low + (high - low) * share, 1)
        seen += count
    return float(UPPER_MS[-1])


def percentiles(counts: Mapping[int, int]) -> tuple[float | None, float | None, float | None]:
    """(p50, p95, p99)."""
    return percentile(counts, 0.50), percentile(counts, 0.95), percentile(counts, 0.99)
