"""Recap engines: turn a speaker-labelled transcript into the structured recap a person keeps.

Pure Python (no Django) so the engine runs in the Celery task, in benchmarks and in plain tests.
"""

from .base import (
    SPEAKERS,
    Moment,
    RecapEngine,
    RecapResult,
    Section,
    Segment,
    SourcedText,
    Speaker,
    Stats,
    Theme,
    compute_stats,
    get_engine,
    validate,
)

__all__ = [
    "SPEAKERS",
    "Moment",
    "RecapEngine",
    "RecapResult",
    "Section",
    "Segment",
    "SourcedText",
    "Speaker",
    "Stats",
    "Theme",
    "compute_stats",
    "get_engine",
    "validate",
]
