"""How busy an engine is: time with at least one request in flight, and mean in flight.

A `BusyMeter` integrates the number of requests in flight over time. The
streaming dispatcher keeps one (driver side), and each vLLM actor keeps one
around its own requests (engine side), so a benchmark can say what share of
a phase the engine had work and how full it was kept.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class BusySnapshot:
    """Totals since the meter started. Times are `time.time()` seconds (comparable across processes)."""

    first_start: float | None  # when the first request began
    last_end: float | None  # when the last finished request ended
    busy_s: float  # seconds with >= 1 request in flight
    in_flight_s: float  # integral of requests in flight over time (request-seconds)
    in_flight: int  # requests in flight now
    peak_in_flight: int  # most requests in flight at once

    def over(self, wall_s: float) -> tuple[float, float]:
        """(busy fraction, mean requests in flight) over a phase of `wall_s` seconds."""
        if wall_s <= 0:
            return 0.0, 0.0
        return min(1.0, self.busy_s / wall_s), self.in_flight_s / wall_s


class BusyMeter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._since = 0.0
        self._busy = 0.0
        self._area = 0.0
        self._first: float | None = None
        self._last_end: float | None = None
        self._peak = 0

    def _advance(self, now: float) -> None:
        if self._in_flight:
            self._busy += now - self._since
            self._area += (now - self._since) * self._in_flight
        self._since = now

    def begin(self) -> None:
        now = time.time()
        with self._lock:
            self._advance(now)
            if self._first is None:
                self._first = now
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def end(self) -> None:
        now = time.time()
        with self._lock:
            self._advance(now)
            self._in_flight -= 1
            self._last_end = now

    def snapshot(self) -> BusySnapshot:
        with self._lock:
            self._advance(time.time())
            return BusySnapshot(self._first, self._last_end, self._busy, self._area, self._in_flight, self._peak)
