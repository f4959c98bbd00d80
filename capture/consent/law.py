"""The recording-consent law table (jurisdictions.json) and the rule the consent gate shows.

The table is data, not code: a reviewer updates the JSON (with its sources) and bumps `version` and
`reviewed`. It is validated when loaded, so a bad edit fails loudly at start-up instead of showing a
person the wrong rule. Not legal advice: the page says so every time."""

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("jurisdictions.json")

ALL_PARTY = "all_party"
ONE_PARTY = "one_party"
UNKNOWN = "unknown"  # a place outside the table: shown as "check local law", treated as all-party
RULES = (ALL_PARTY, ONE_PARTY, UNKNOWN)

VIDEO = "video"
IN_PERSON = "in_person"

# Completeness is checked, not assumed: 50 states + DC, 10 provinces + 3 territories.
US_CODES = frozenset(
    "US-" + c
    for c in (
        "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
        "NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
    ).split()
)
CA_CODES = frozenset("CA-" + c for c in "AB BC MB NB NL NS NT NU ON PE QC SK YT".split())
ELSEWHERE = "OTHER"


class LawDataError(ValueError):
    """jurisdictions.json is malformed or incomplete."""


@dataclass(frozen=True)
class Source:
    cite: str
    url: str = ""


@dataclass(frozen=True)
class RuleText:
    label: str  # "all-party"
    title: str  # the headline shown on the gate
    short: str  # "everyone taking part must agree"


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    name: str
    rule: str
    note: str
    contested: bool
    contested_note: str
    sources: tuple[Source, ...]

    @property
    def where(self) -> str:
        """Follows "You're" or "recorded": 'in California', 'outside the US and Canada'."""
        return self.name[0].lower() + self.name[1:] if self.code == ELSEWHERE else f"in {self.name}"

    @property
    def country(self) -> str:
        return self.code.split("-")[0] if "-" in self.code else ""


@dataclass(frozen=True)
class LawTable:
    version: int
    reviewed: date
    rules: dict[str, RuleText]
    federal_note: str
    federal_sources: tuple[Source, ...]
    general_sources: tuple[Source, ...]
    jurisdictions: dict[str, Jurisdiction]

    def get(self, code: str) -> Jurisdiction | None:
        return self.jurisdictions.get(code)

    def grouped(self) -> list[tuple[str, list[Jurisdiction]]]:
        """For the <select>: United States, Canada, then "somewhere else"."""
        by_name = sorted(self.jurisdictions.values(), key=lambda j: j.name)
        return [
            ("United States", [j for j in by_name if j.country == "US"]),
            ("Canada", [j for j in by_name if j.country == "CA"]),
            ("Elsewhere", [j for j in by_name if j.country == ""]),
        ]


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise LawDataError(message)


def _text(obj: dict, key: str, where: str) -> str:
    value = obj.get(key)
    _require(isinstance(value, str) and value.strip() != "", f"{where}: '{key}' must be non-empty text")
    return value.strip()


def _sources(raw, where: str) -> tuple[Source, ...]:
    _require(isinstance(raw, list) and len(raw) > 0, f"{where}: needs at least one source")
    out = []
    for i, item in enumerate(raw):
        _require(isinstance(item, dict), f"{where}: source {i} must be an object")
        cite = _text(item, "cite", f"{where} source {i}")
        url = item.get("url", "")
        _require(
            url == "" or (isinstance(url, str) and url.startswith(("https://", "http://"))),
            f"{where} source {i}: url must be http(s)",
        )
        out.append(Source(cite=cite, url=url))
    return tuple(out)


def law_table_parse(raw: dict) -> LawTable:
    _require(isinstance(raw, dict), "the law table must be a JSON object")
    version = raw.get("version")
    _require(isinstance(version, int) and version > 0, "'version' must be a positive integer")
    try:
        reviewed = date.fromisoformat(raw.get("reviewed", ""))
    except (TypeError, ValueError):
        raise LawDataError("'reviewed' must be an ISO date (YYYY-MM-DD)") from None

    rules_raw = raw.get("rules")
    _require(isinstance(rules_raw, dict) and set(rules_raw) == set(RULES), f"'rules' must define {RULES}")
    rules = {
        code: RuleText(**{k: _text(text, k, f"rules.{code}") for k in ("label", "title", "short")})
        for code, text in rules_raw.items()
    }

    federal = raw.get("federal")
    _require(isinstance(federal, dict), "'federal' is missing")
    _require(
        federal.get("rule") == ONE_PARTY, "federal: the US baseline is one-party (18 U.S.C. §2511(2)(d))"
    )

    jurisdictions: dict[str, Jurisdiction] = {}
    entries = raw.get("jurisdictions")
    _require(isinstance(entries, list), "'jurisdictions' must be a list")
    for entry in entries:
        _require(isinstance(entry, dict), "every jurisdiction must be an object")
        code = _text(entry, "code", "jurisdiction")
        where = f"jurisdiction {code}"
        _require(code not in jurisdictions, f"{where}: listed twice")
        rule = entry.get("rule")
        _require(rule in RULES, f"{where}: rule must be one of {RULES}")
        contested = entry.get("contested", False)
        _require(isinstance(contested, bool), f"{where}: 'contested' must be true or false")
        contested_note = _text(entry, "contested_note", where) if contested else ""
        # Where sources disagree the gate shows the strictest reading, so the data must say so.
        _require(not contested or rule == ALL_PARTY, f"{where}: contested places are stored as all_party")
        _require((rule == UNKNOWN) == (code == ELSEWHERE), f"{where}: only {ELSEWHERE} has the unknown rule")
        jurisdictions[code] = Jurisdiction(
            code=code,
            name=_text(entry, "name", where),
            rule=rule,
            note=_text(entry, "note", where),
            contested=contested,
            contested_note=contested_note,
            sources=_sources(entry.get("sources"), where),
        )

    codes = set(jurisdictions)
    _require(US_CODES <= codes, f"missing US entries: {sorted(US_CODES - codes)}")
    _require(CA_CODES <= codes, f"missing Canadian entries: {sorted(CA_CODES - codes)}")
    _require(ELSEWHERE in codes, f"missing the '{ELSEWHERE}' (somewhere else) entry")
    _require(
        codes <= US_CODES | CA_CODES | {ELSEWHERE}, f"unknown codes: {sorted(codes - US_CODES - CA_CODES)}"
    )

    return LawTable(
        version=version,
        reviewed=reviewed,
        rules=rules,
        federal_note=_text(federal, "note", "federal"),
        federal_sources=_sources(federal.get("sources"), "federal"),
        general_sources=_sources(raw.get("general_sources"), "general_sources"),
        jurisdictions=jurisdictions,
    )


def law_table_load(*, path: Path = DATA_FILE) -> LawTable:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LawDataError(f"cannot read {path.name}: {exc}") from exc
    return law_table_parse(raw)


@cache
def law_table() -> LawTable:
    """The table of the running process (read once)."""
    return law_table_load()


@dataclass(frozen=True)
class Party:
    who: str  # "you" | "therapist" | "both"
    place: Jurisdiction
    rule_text: RuleText  # the wording of this place's own rule


@dataclass(frozen=True)
class RuleDecision:
    """What the gate shows for the chosen places. `rule` is never UNKNOWN: an unknown place is treated
    as all-party, and `unknown` says the person should check the local law."""

    rule: str
    session_type: str
    client: Jurisdiction
    therapist: Jurisdiction | None  # None in person: the same room, so the same place
    parties: tuple[Party, ...]
    deciding: Jurisdiction  # the place whose (strictest) rule applies
    unknown: bool
    mixed: bool  # people in places with different rules
    text: RuleText
    table_version: int
    table_reviewed: date
    federal_sources: tuple[Source, ...]  # the US baseline, when someone is in the US

    @property
    def lines(self) -> list[str]:
        return consent_rule_explain(self)

    @property
    def contested(self) -> tuple[Jurisdiction, ...]:
        return tuple(p.place for p in self.parties if p.place.contested)

    @property
    def places(self) -> tuple[Jurisdiction, ...]:
        return tuple(p.place for p in self.parties)

    def shown_for(self) -> str:
        """Key of the choices this rule was shown for; the form checks it before recording."""
        return consent_shown_for(
            session_type=self.session_type,
            client=self.client.code,
            therapist=self.therapist.code if self.therapist else None,
        )


def consent_shown_for(*, session_type: str, client: str, therapist: str | None) -> str:
    therapist = therapist if session_type == VIDEO else None
    return f"{session_type}:{client}:{therapist or '-'}"


def consent_rule_for(
    *, session_type: str, client: str, therapist: str | None = None, table: LawTable | None = None
) -> RuleDecision:
    """The rule to show for where the person and (by video) their therapist are.

    In person both are in the same place, so only the person's answer counts. By video the strictest
    rule of any participant's place applies: all-party (or a contested or unknown place, both treated as
    all-party) anywhere means everyone must agree. Raises KeyError/ValueError on bad input."""
    table = table or law_table()
    if session_type not in (VIDEO, IN_PERSON):
        raise ValueError(f"unknown session type {session_type!r}")
    if session_type == VIDEO and not therapist:
        raise ValueError("a video session needs the therapist's location")
    you = table.jurisdictions[client]
    them = table.jurisdictions[therapist] if session_type == VIDEO else None
    if them is None or them == you:
        parties = (Party("both", you, table.rules[you.rule]),)
    else:
        parties = (
            Party("you", you, table.rules[you.rule]),
            Party("therapist", them, table.rules[them.rule]),
        )
    all_party = [p.place for p in parties if p.place.rule == ALL_PARTY]
    unknown = [p.place for p in parties if p.place.rule == UNKNOWN]
    if all_party:
        deciding, text = all_party[0], table.rules[ALL_PARTY]
    elif unknown:
        deciding, text = unknown[0], table.rules[UNKNOWN]
    else:
        deciding, text = parties[0].place, table.rules[ONE_PARTY]
    return RuleDecision(
        rule=ALL_PARTY if (all_party or unknown) else ONE_PARTY,
        session_type=session_type,
        client=you,
        therapist=them,
        parties=parties,
        deciding=deciding,
        unknown=bool(unknown),
        mixed=len({p.place.rule for p in parties}) > 1,
        text=text,
        table_version=table.version,
        table_reviewed=table.reviewed,
        federal_sources=table.federal_sources if any(p.place.country == "US" for p in parties) else (),
    )


def consent_rule_explain(decision: RuleDecision) -> list[str]:
    """The rule in plain words, one short sentence or two per line, for the gate and its tests."""
    lines = []
    if len(decision.parties) == 1:
        place = decision.parties[0].place
        if decision.session_type == VIDEO:
            lines.append(f"You and your therapist are both {place.where}.")
        lines.append(place.note)
    else:
        you, them = decision.parties
        lines.append(f"You're {you.place.where}: {you.rule_text.short}.")
        lines.append(f"Your therapist is {them.place.where}: {them.rule_text.short}.")
        if decision.mixed:  # one place is stricter, so it decides
            lines.append(
                "When people are in different places, the strictest rule applies. "
                "Here that means everyone must agree."
            )
    if decision.rule == ALL_PARTY:
        lines.append("So everyone in the session needs to have agreed, your therapist included.")
    else:
        lines.append(
            "Undertone still records only with your therapist's agreement: in therapy, trust comes first."
        )
    return lines
