"""The consent record stored with a session (CaptureSession.consent): where everyone was, the rule the
gate showed (with the law table's version), the confirmation, and when. Never any content.

    {"version": 1, "therapist_agreed": true, "session_type": "video",
     "client": {"code": "US-NY", "name": "New York", "where": "in New York", "rule": "one_party"},
     "therapist": {"code": "US-CA", ...},   # null in person
     "rule": {"code": "all_party", "label": "all-party", "title": "Everyone must agree",
              "deciding": "US-CA", "contested": [], "unknown": false},
     "law_table": {"version": 1, "reviewed": "2026-11-20"},
     "confirmed_at": "2026-11-21T14:02:00+00:00"}
"""

from datetime import datetime

from django.utils import timezone

from .law import IN_PERSON, VIDEO, Jurisdiction, LawTable, consent_rule_for, law_table

RECORD_VERSION = 1


class ConsentRecordInvalid(ValueError):
    pass


def _place(j: Jurisdiction | None) -> dict | None:
    return None if j is None else {"code": j.code, "name": j.name, "where": j.where, "rule": j.rule}


def consent_record_build(
    *,
    session_type: str,
    client: str,
    therapist: str | None = None,
    therapist_agreed: bool,
    at: datetime | None = None,
    table: LawTable | None = None,
) -> dict:
    table = table or law_table()
    decision = consent_rule_for(session_type=session_type, client=client, therapist=therapist, table=table)
    return {
        "version": RECORD_VERSION,
        "therapist_agreed": therapist_agreed,
        "session_type": session_type,
        "client": _place(decision.client),
        "therapist": _place(decision.therapist),
        "rule": {
            "code": decision.rule,
            "label": decision.text.label,
            "title": decision.text.title,
            "deciding": decision.deciding.code,
            "contested": [j.code for j in decision.contested],
            "unknown": decision.unknown,
        },
        "law_table": {"version": table.version, "reviewed": table.reviewed.isoformat()},
        "confirmed_at": (at or timezone.now()).isoformat(),
    }


THERAPIST_NOT_AGREED = "the therapist's agreement was not confirmed"


def therapist_agreed(record: dict) -> bool:
    """The one rule before a therapy session records: the person confirmed their therapist agreed.
    Checked when the record is built from the gate (consent_record_validate) and again, as a state
    guard, when a session starts recording (services.consent_record_save)."""
    return isinstance(record, dict) and record.get("therapist_agreed") is True


def consent_record_validate(record: dict, *, table: LawTable | None = None) -> None:
    """A therapy-session record must be complete, confirmed, and show the rule the law table gives for
    its places: a caller cannot store "one-party" for California by mistake."""
    table = table or law_table()

    def need(cond: bool, message: str) -> None:
        if not cond:
            raise ConsentRecordInvalid(message)

    need(isinstance(record, dict), "the consent record must be a dict")
    need(therapist_agreed(record), THERAPIST_NOT_AGREED)
    session_type = record.get("session_type")
    need(session_type in (VIDEO, IN_PERSON), "session_type must be video or in_person")
    client = (record.get("client") or {}).get("code")
    need(table.get(client) is not None, "the person's location is missing or unknown")
    therapist = (record.get("therapist") or {}).get("code")
    if session_type == VIDEO:
        need(table.get(therapist) is not None, "a video session needs the therapist's location")
    else:
        need(record.get("therapist") is None, "an in-person session has one location")
    decision = consent_rule_for(session_type=session_type, client=client, therapist=therapist, table=table)
    need((record.get("rule") or {}).get("code") == decision.rule, "the rule does not match the law table")
    need(isinstance(record.get("law_table"), dict), "the law table version is missing")
    try:
        datetime.fromisoformat(record.get("confirmed_at") or "")
    except (TypeError, ValueError):
        raise ConsentRecordInvalid("confirmed_at must be an ISO time") from None
