"""Consent before capture: the law table, the rule shown, the consent record, and the message builder."""
