"""The audit log's table body, written in Python: what
`templates/audit/_table.html` printed for each event, cell by cell. Its 50
rows through the template were ~4.7 ms of a ~17 ms page (issue 29; the
sentences themselves 0.7 ms of it). Plain values go through `_e`
(html.escape, as Django's `escape` does); the parts built as markup (the
sentence, the time) go in as they are."""

from __future__ import annotations

from django.utils.safestring import SafeString, mark_safe

from accounts.templatetags.dates import when
from audit.sentences import sentence
from core.widgets import escaped as _e

_PENDING = (
    ' <span class="badge text-bg-light border" '
    'title="Recorded; not sealed into the hash chain yet">pending</span>'
)


def event_rows_html(events) -> SafeString:
    """The `<tr>`s of `events` (from `with_names`, each with its
    `detail_url`): when (a link to the event), what happened in one
    sentence (its people link to the log filtered by them), the outcome,
    the address."""
    return mark_safe("".join(map(_row, events)))  # noqa: S308 (each row escaped by _row)


def _row(event) -> str:
    outcome = _e(event.outcome)
    label = _e(event.get_outcome_display())
    flag = (
        f'<span class="badge outcome-{outcome} d-md-none">{label}</span> '
        if event.outcome != "success"
        else ""
    )
    organization = getattr(event, "organization_name", "")
    where = (
        ' <span class="badge rounded-pill text-bg-light border audit-org" '
        f'title="In this organization">{_e(organization)}</span>'
        if organization
        else ""
    )
    ip = f'<a href="?ip={_e(event.ip)}">{_e(event.ip)}</a>' if event.ip else ""
    return (
        "<tr>\n"
        f'  <td class="small audit-time"><a href="{_e(event.detail_url)}" '
        f'title="Event {_e(event.id)}">\n    {when(event.created_at)}</a>'
        f"{_PENDING if event.seq is None else ''}</td>\n"
        f'  <td class="audit-what text-break">{flag}{sentence(event, link=True)}{where}</td>\n'
        f'  <td class="d-none d-md-table-cell"><span class="badge outcome-{outcome}">'
        f"{label}</span></td>\n"
        f'  <td class="d-none d-xxl-table-cell small">{ip}</td>\n'
        "</tr>\n"
    )
