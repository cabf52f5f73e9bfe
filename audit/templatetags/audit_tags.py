import json

from django import template

from accounts.models import email_for_people
from audit import sentences

register = template.Library()


@register.filter
def event_sentence(event, link=False):
    """ "Ada banned Bob until 28 Nov: spam" (see audit/sentences.py)."""
    return sentences.sentence(event, link=bool(link))


@register.filter
def audit_value(value) -> str:
    """A changes value as text people read: lists joined, mappings as JSON."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(audit_value(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, str):
        return email_for_people(value)  # an address: as typed, and encoded
    return str(value)
