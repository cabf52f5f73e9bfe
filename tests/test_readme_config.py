"""The README's Configuration table names every environment variable the
settings read, so an operator can find each knob."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ = re.compile(
    r"""(?:os\.environ\.get|env_int|env_float|env_bool|env_list)\(\s*["']([A-Z0-9_]+)["']"""
)


def test_every_environment_variable_the_settings_read_is_in_the_readme_table():
    names = set(READ.findall((ROOT / "handover" / "settings.py").read_text()))
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z0-9_]+)`", table))
    assert len(names) > 30
    assert not names - documented, (
        f"add to README's Configuration table: {sorted(names - documented)}"
    )
