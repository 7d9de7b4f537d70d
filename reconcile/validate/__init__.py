"""Validate stage: the input contract → `input_issue`."""

from .engine import validate

__all__ = ["validate"]
