"""The one return type shared by the value normalisers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Normalized:
    """A normalised value and, when the raw value was bad or had to be altered, why.

    ``problem`` is a key of ``problems.PROBLEMS``; codes in ``problems.INFORMATIONAL`` come with a
    usable ``value``, the others usually with ``value`` None.
    """

    value: object | None
    problem: str | None = None


EMPTY = Normalized(None, None)
