"""Form widgets written in Python where a template per option costs too
much.

`LongSelect` is a single-choice `<select>` whose options are written in
Python, each escaped, instead of Django's template per option
(`select_option.html` + `attrs.html`): for choice lists that grow with the
data (an installation's organizations: 1,000 options on every users list
page at 1,000 organizations, most of the page's rendering; the audit log's
action codes, in option groups). The markup is the one
`templates/django/forms/widgets/select.html` writes."""

from __future__ import annotations

from django import forms
from django.forms.utils import flatatt
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe


class LongSelect(forms.Select):
    def render(self, name, value, attrs=None, renderer=None):
        final = self.build_attrs(self.attrs, attrs)
        classes = final.pop("class", "").split()
        if "form-select" not in classes:
            classes.insert(0, "form-select")
        final = {"name": name, **final, "class": " ".join(classes)}
        wanted = set(self.format_value(value))
        chosen = False

        def option(option_value, label) -> str:
            nonlocal chosen
            option_value = "" if option_value is None else str(option_value)
            selected = not chosen and option_value in wanted
            chosen |= selected
            # Both escaped here (cheaper than format_html for 1,000 options).
            return (
                f'<option value="{escape(option_value)}"'
                f"{' selected' if selected else ''}>{escape(label)}</option>"
            )

        lines = []
        for option_value, label in self.choices:
            if isinstance(label, (list, tuple)):  # an option group
                lines.append(f'<optgroup label="{escape(option_value)}">')
                lines += [option(v, sub) for v, sub in label]
                lines.append("</optgroup>")
            else:
                lines.append(option(option_value, label))
        return format_html(
            "<select{}>\n  {}\n</select>",
            flatatt(final),
            mark_safe("\n  ".join(lines)),  # noqa: S308 (each part escaped above)
        )
