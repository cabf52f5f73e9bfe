"""core.links and `{% url %}`: argument-less links reversed once per
process, answering as Django's `reverse` and `{% url %}` do."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.template import Context, RequestContext, Template
from django.test import RequestFactory, override_settings
from django.urls import NoReverseMatch, include, path, reverse

from core.links import page_url


def _view(request):
    return HttpResponse("")


# This module is also a URLconf (override_settings(ROOT_URLCONF=__name__)):
# one application ("shop") mounted twice, as two admin sites are.
shop = ([path("", _view, name="index"), path("<int:n>/", _view, name="item")], "shop")
urlpatterns = [
    path("first/", include(shop, namespace="first")),
    path("second/", include(shop, namespace="second")),
    path("about/", _view, name="about"),
]


def test_page_url_is_reverse():
    for name in ("overview", "users:list", "audit:list", "saved_views:list"):
        assert page_url(name) == reverse(name)
    with pytest.raises(NoReverseMatch):
        page_url("no-such-page")


@override_settings(ROOT_URLCONF=__name__)
def test_a_new_urlconf_is_a_new_answer():
    assert page_url("about") == "/about/"
    with pytest.raises(NoReverseMatch):
        page_url("users:list")


def test_the_answer_follows_the_script_prefix():
    from django.urls import set_script_prefix

    set_script_prefix("/handover/")
    try:
        assert page_url("users:list") == "/handover/users/"
    finally:
        set_script_prefix("/")
    assert page_url("users:list") == "/users/"


@override_settings(ROOT_URLCONF=__name__)
def test_the_url_tag_answers_as_djangos_for_the_current_application():
    request = RequestFactory().get("/")
    rendered = Template(
        "{% url 'shop:index' %}|{% url 'shop:item' 3 %}|{% url 'about' as a %}{{ a }}"
        "|{% url 'nowhere' as n %}[{{ n }}]"
    )
    request.current_app = "first"
    assert rendered.render(RequestContext(request)) == "/first/|/first/3/|/about/|[]"
    request.current_app = "second"
    assert rendered.render(RequestContext(request)) == "/second/|/second/3/|/about/|[]"
    with pytest.raises(NoReverseMatch):
        Template("{% url 'nowhere' %}").render(Context({}))


def test_the_url_tag_escapes_as_djangos():
    template = "{% url 'users:list' %}?q=1&amp;x={% url view %}"
    expected = "/users/?q=1&amp;x=/users/"
    assert Template(template).render(Context({"view": "users:list"})) == expected
