"""The adversarial suite: every test here carries the `adversarial` marker
(it runs in CI with the rest of the suite; `-m adversarial` runs it alone).
Figures that SECURITY.md quotes are printed with a `FIGURE` prefix; run
with `-s` to read them."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/security/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.adversarial)


def figure(name: str, **values) -> None:
    """Print a measured figure for SECURITY.md."""
    print(f"FIGURE {name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
