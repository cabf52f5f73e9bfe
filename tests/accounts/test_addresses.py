"""Addresses wrap before "@" and before each dot (issue 27:
they broke mid-word at 390 px), and stay escaped."""

from __future__ import annotations

from accounts.templatetags.addresses import address


def test_an_address_may_wrap_before_the_at_sign_and_each_dot():
    assert address("ada.lovelace@mail.example.com") == (
        "ada<wbr>.lovelace<wbr>@mail<wbr>.example<wbr>.com"
    )


def test_an_address_stays_escaped_and_anything_else_is_plain_text():
    assert address('<b>"x"</b>@ex.com') == "&lt;b&gt;&quot;x&quot;&lt;/b&gt;<wbr>@ex<wbr>.com"
    assert address("a.<i>@b") == "a<wbr>.&lt;i&gt;<wbr>@b"
    assert address("a@<script>.com") == "a<wbr>@&lt;script&gt;<wbr>.com"
    assert address("no-at-sign <i>") == "no-at-sign &lt;i&gt;"
    assert address(None) == ""
