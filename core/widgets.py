"""Form widgets written in Python where a template per option costs too
much.

`LongSelect` is a single-choice `<select>` whose options are written in
Python, each escaped, instead of Django's template per option
(`select_option.html` + `attrs.html`): for choice lists that grow with the
data (an installation's organizations: 1,000 options on every users list
page at 1,000 organizations, most of the page's rendering; the audit log's
action codes, in option groups). The markup is the one
`templates/django/forms/widgets/select.html` writes. `Choices` hands such
a list to the field without Django normalizing it again.

`WrittenTextInput`, `WrittenDateInput` and `WrittenHiddenInput` write
the `<input>` that Django's `input.html` and the project's `attrs.html`
write, byte for byte, in Python: a filter form of ten fields spent a
template render and an include per field (the audit log's, ~2 ms of a
page)."""

from __future__ import annotations

import html

from django import forms
from django.forms.utils import flatatt
from django.utils.choices import BaseChoiceIterator
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe


def escaped(value) -> str:
    """`value` as text, escaped for HTML (quotes too): what Django's
    `escape` does, without its lazy-string and SafeString handling, for
    markup written in Python (these widgets, the users list's and the
    audit log's rows)."""
    return html.escape(str(value))


class Choices(BaseChoiceIterator):
    """(value, label) pairs of strings, already in the form Django's choice
    fields keep them: handed to a field as they are. (A plain list is
    normalized pair by pair, twice -- by the field and by its widget --
    about 3 ms for an installation's 1,000 organizations.)"""

    def __init__(self, pairs):
        self.pairs = list(pairs)

    def __iter__(self):
        return iter(self.pairs)

    def __len__(self):
        return len(self.pairs)


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
            # Both escaped here, as Django's `escape` does without its
            # lazy-string wrapper (cheaper than format_html for 1,000 options).
            return (
                f'<option value="{html.escape(option_value)}"'
                f"{' selected' if selected else ''}>{html.escape(str(label))}</option>"
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


class _WrittenInput:
    """`input.html` + `attrs.html` in Python: the attributes in order (a
    False one left out, a True one bare), then the class, "form-control"
    first on a visible input."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        out = [f'<input type="{escape(widget["type"])}" name="{escape(widget["name"])}"']
        if widget["value"] is not None:
            out.append(f' value="{escape(widget["value"])}"')
        css = ""
        for key, attr in widget["attrs"].items():
            if key == "class":
                css = attr
            elif attr is True:
                out.append(f" {escape(key)}")
            elif attr is not False:
                out.append(f' {escape(key)}="{escape(attr)}"')
        if widget["type"] != "hidden":
            out.append(f' class="form-control{" " if css else ""}{escape(css)}"')
        elif css:
            out.append(f' class="{escape(css)}"')
        out.append(">")
        return mark_safe("".join(out))  # noqa: S308 (each part escaped above)


class WrittenTextInput(_WrittenInput, forms.TextInput):
    pass


class WrittenDateInput(_WrittenInput, forms.DateInput):
    pass


class WrittenHiddenInput(_WrittenInput, forms.HiddenInput):
    pass


class SuggestInput(forms.TextInput):
    """A search field whose suggestions the server sends as the person
    types: `<input list>` and a `<datalist>` that htmx fills from
    `suggest_url` (the field's text sent under its own name), holding at
    first only `chosen` ((value, label) pairs: the current choice). For a
    choice among more options than a page should write each time (an
    installation's 1,000 organizations on every users list). The browser
    shows it as a combobox; without JavaScript the value is typed."""

    input_type = "search"

    def __init__(self, suggest_url: str, *, chosen=(), attrs=None):
        super().__init__(attrs)
        self.suggest_url = suggest_url
        self.chosen = list(chosen)

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        attrs = self.build_attrs(self.attrs, attrs)
        options_id = f"{attrs.get('id') or name}_options"
        written = {
            "type": self.input_type,
            "name": name,
            "value": None if value in (None, "") else str(value),
            **attrs,
            "class": " ".join(["form-control", *attrs.get("class", "").split()]),
            "list": options_id,
            "autocomplete": "off",
            "hx-get": self.suggest_url,
            "hx-trigger": "input changed delay:300ms, focus once",
            "hx-target": f"#{options_id}",
            # Set here, not inherited from a form that swaps its results.
            "hx-swap": "innerHTML",
            "hx-sync": "this:replace",
            # Not inherited from a filter form that keeps its state in the URL.
            "hx-push-url": "false",
            # Nor its results' loading indicator: only the suggestions load.
            "hx-indicator": "this",
        }
        tag = "".join(
            f' {html.escape(key)}="{html.escape(str(v))}"'
            for key, v in written.items()
            if v is not None
        )
        options = options_html(self.chosen)
        # Every attribute escaped above, every option by `options_html`.
        return mark_safe(
            f'<input{tag}><datalist id="{html.escape(options_id)}">{options}</datalist>'
        )  # noqa: S308


def options_html(pairs, *, marked=(), mark="") -> SafeString:
    """`<option>`s for (value, label) `pairs`, each value and label escaped;
    `mark`: a bare attribute the `marked` values carry. For a select or
    datalist written around them (no selected option: `LongSelect` for
    that)."""
    return mark_safe(  # noqa: S308 (each value and label escaped)
        "".join(
            f'<option value="{html.escape(str(value))}"{f" {mark}" if value in marked else ""}>'
            f"{html.escape(str(label))}</option>"
            for value, label in pairs
        )
    )
