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


def warm_up() -> None:
    """Build a tiny recap so lazy tables (lexicon, topic index) are loaded before the first real one."""
    get_engine("local").build(
        [
            Segment(speaker="therapist", start=0.0, end=2.0, text="This week, try a short walk after lunch."),
            Segment(speaker="client", start=2.5, end=5.0, text="Okay, I'm going to walk with my neighbour."),
        ]
    )


__all__ = [
    "warm_up",
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
