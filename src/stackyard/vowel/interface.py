"""The data layer the app plugs in: ``DataInterface`` and the speed bound ``NullInterface``.

Semantics every implementation keeps (docs/vowel.md):

- ``log_initial`` stores one initial request; ``at`` defaults to now (UTC).
- ``log_followup`` stores one follow-up; it counts for the latest initial request with the
  same uuid stored before it, on that request's symbol and day. A follow-up with no such
  request is stored and counts for nothing. Every repeated follow-up counts.
- ``symbol_aggregates`` answers ``{"symbol", "count", "earliest", "latest", "followups"}``
  over all time; ``range_aggregates`` a list of those, by symbol, for every symbol with
  initial requests on the UTC days ``lower..upper`` (both inclusive).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date, datetime
from typing import Any

Aggregate = dict[str, Any]


class DataUnavailable(RuntimeError):
    """A store the interface needs did not answer; the API answers 503."""


class OutcomeUnknown(DataUnavailable):
    """A write was sent but its answer never came: it may be stored (and then not counted
    until ``stackyard-vowel-rebuild``). The API answers 503 without ``Retry-After``."""


def empty(symbol: str) -> Aggregate:
    return {"symbol": symbol, "count": 0, "earliest": None, "latest": None, "followups": 0}


class DataInterface(ABC):
    @abstractmethod
    def log_initial(
        self, uuid: str, symbol: str, is_vowel: bool, at: datetime | None = None
    ) -> None: ...

    @abstractmethod
    def log_followup(self, uuid: str, at: datetime | None = None) -> None: ...

    @abstractmethod
    def symbol_aggregates(self, symbol: str) -> Aggregate: ...

    @abstractmethod
    def range_aggregates(self, lower: date, upper: date) -> list[Aggregate]: ...

    def health(self) -> dict[str, str]:
        """Each store's state, ``"ok"`` or the error; raises nothing."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""


class NullInterface(DataInterface):
    """Stores nothing and answers empty aggregates: the upper bound of the app's speed."""

    def log_initial(
        self, uuid: str, symbol: str, is_vowel: bool, at: datetime | None = None
    ) -> None:
        return None

    def log_followup(self, uuid: str, at: datetime | None = None) -> None:
        return None

    def symbol_aggregates(self, symbol: str) -> Aggregate:
        return empty(symbol)

    def range_aggregates(self, lower: date, upper: date) -> list[Aggregate]:
        return []
