"""Run the recap engine on a transcript file and print the recap as JSON. Stores nothing: for
developing and evaluating the engine on real conversations."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recaps.engines.base import Segment, get_engine
from recaps.engines.llm_client import LlmUnavailable
from recaps.llm_config import llm_target


class Command(BaseCommand):
    help = (
        "Build a recap from a transcript JSON file (list of {speaker, start, end, text}, optionally "
        "avg_logprob, no_speech_prob and unsure spans) and print it."
    )

    def add_arguments(self, parser):
        parser.add_argument("transcript", type=Path)
        parser.add_argument("--engine", default="local")
        parser.add_argument("--markdown", action="store_true", help="print Markdown instead of JSON")

    def handle(self, *args, transcript: Path, engine: str, markdown: bool, **options):
        try:
            rows = json.loads(transcript.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {transcript}") from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"{transcript} is not JSON: {exc}") from exc
        if not isinstance(rows, list):
            raise CommandError("the transcript must be a JSON list of segments")
        segments = []
        for i, row in enumerate(rows):
            # from_dict reads the optional confidence keys (avg_logprob, no_speech_prob, unsure) but
            # defaults missing times and text, which would hide a broken file: check those first.
            try:
                float(row["start"]), float(row["end"]), str(row["text"])
                segments.append(Segment.from_dict(row))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise CommandError(f"segment {i} needs speaker, start, end and text") from exc
        options = {}
        if engine == "llm":
            target = llm_target()
            if target is None:
                raise CommandError("--engine llm needs RECAP_LLM_URL and RECAP_LLM_MODEL (see README)")
            options["settings"] = target.client_settings()
        try:
            built = get_engine(engine, **options)
            result = built.build(segments)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except LlmUnavailable as exc:
            # The reason only ("timeout", "http 500"): never the transcript or the reply.
            raise CommandError(f"the model server could not make a recap ({exc.reason})") from exc
        report = getattr(getattr(built, "_inner", built), "last_report", None)
        if report is not None:
            self.stderr.write(f"validator: {json.dumps(report, sort_keys=True)}")
        if markdown:
            self.stdout.write(result.to_markdown())
        else:
            self.stdout.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
