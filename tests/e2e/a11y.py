"""Accessibility checks with axe-core (npm, tests only; `make test` runs
`npm ci`). axe is served to the page from its own origin through a
Playwright route, so the site's CSP (script-src 'self') stays enforced
while axe runs: no bypass_csp, and a CSP violation still shows up.

`check(page, name)` fails on any serious or critical violation. Without
node_modules it does nothing (tests/e2e/test_accessibility.py::
test_axe_core_is_installed skips with the reason, or fails under
REQUIRE_SERVICES=1), so the journeys still run without npm."""

from __future__ import annotations

import pytest

from tests.conftest import REQUIRE_SERVICES, ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_PATH = "/__tests__/axe.min.js"
BLOCKING = ("serious", "critical")
# Every page checked, for the report: (name, url, violations, blocking)
CHECKED: list[tuple[str, str, int, int]] = []

# WCAG 2.0-2.2 A and AA rules only, without axe's best-practice extras:
# used for Django admin's own pages (third-party markup).
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

_RUN = """async (tags) => {
  const options = {resultTypes: ['violations']};
  if (tags) options.runOnly = {type: 'tag', values: tags};
  const result = await axe.run(document, options);
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary),
  }));
}"""


def available() -> bool:
    return AXE.exists()


def _serve_axe(context) -> None:
    if getattr(context, "_axe_routed", False):
        return
    context.route(
        f"**{AXE_PATH}",
        lambda route: route.fulfill(path=str(AXE), content_type="application/javascript"),
    )
    context._axe_routed = True


def violations(page, tags=None) -> list[dict]:
    _serve_axe(page.context)
    # Let transitions finish first: a dialog fading in has blended colours
    # that fail the contrast rule for a few frames.
    page.evaluate(
        "() => Promise.all(document.getAnimations()"
        ".filter(a => a.effect && a.effect.getComputedTiming().endTime !== Infinity)"
        ".map(a => a.finished.catch(() => null)))"
    )
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        origin = page.evaluate("location.origin")
        page.add_script_tag(url=origin + AXE_PATH)
    return page.evaluate(_RUN, tags)


# Settled: no htmx request, swap or settle under way and every loading
# indicator faded out, continuously for SETTLED_MS -- longer than any
# delayed trigger (a search field's suggestions: 300 ms after typing, which
# shows its form's indicator too).
SETTLED_MS = 400
_SETTLED = """(quiet) => {
    const busy = document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling")
        || [...document.querySelectorAll(".htmx-indicator")].some(
            (e) => getComputedStyle(e).opacity !== "0");
    const now = performance.now();
    if (busy) { window.__a11ySettledSince = null; return false; }
    window.__a11ySettledSince = window.__a11ySettledSince || now;
    return now - window.__a11ySettledSince >= quiet;
}"""


def check(page, name: str, *, wcag_only: bool = False) -> list[dict]:
    """Run axe on the page as it is now; fail on serious/critical findings.
    Our pages get every rule; `wcag_only` limits Django admin's pages to
    the WCAG A/AA rules."""
    if not available():
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but axe-core is missing ({AXE}); run npm ci")
        return []
    page.wait_for_load_state()
    # A page checked settled, not mid-swap: an htmx loading indicator fading
    # in or out (opacity .2 s) failed the contrast rule half-transparent.
    page.evaluate("window.__a11ySettledSince = null")
    page.wait_for_function(_SETTLED, arg=SETTLED_MS, timeout=10_000, polling=50)
    found = violations(page, WCAG if wcag_only else None)
    blocking = [v for v in found if v["impact"] in BLOCKING]
    CHECKED.append((name, page.url, len(found), len(blocking)))
    assert not blocking, f"axe on {name} ({page.url}):\n" + "\n".join(
        f"- [{v['impact']}] {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in blocking
    )
    return found
