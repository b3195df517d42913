"""Rewrite passes over the IR (filled in by the rewrite modules)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

PIPELINE: list = []


def run_pipeline(fn, passes=None):
    """Apply each pass in order; returns the new function and the rewrite log."""
    return fn, []
