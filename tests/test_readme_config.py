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
    names = {
        name
        for part in sorted((ROOT / "handover" / "settings").glob("*.py"))
        for name in READ.findall(part.read_text())
    }
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z0-9_]+)`", table))
    assert len(names) > 30
    assert not names - documented, (
        f"add to README's Configuration table: {sorted(names - documented)}"
    )


def _quick_start() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]


def test_the_quick_start_says_how_to_pick_a_port_set_site_url_and_load_demo_data():
    quick = _quick_start()
    assert "make run PORT=" in quick
    assert "SITE_URL" in quick
    assert "manage.py seed_demo" in quick


def test_the_readme_links_nothing_outside_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert "../" not in readme
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith(("http://", "https://", "mailto:")):
            assert (ROOT / target).exists(), target


def _make_run(tmp_path, *args) -> list[str]:
    """`make run ARGS` with a stand-in python that prints, for each call,
    SITE_URL and its arguments (nothing is installed or served)."""
    import os
    import shutil
    import subprocess

    make = shutil.which("make")
    assert make, "make is needed to check the Makefile"
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "$SITE_URL $*"\n')
    fake.chmod(0o755)
    (tmp_path / ".installed").touch()  # newer than the lock file: no install
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "PORT", "MAKEFLAGS")}
    done = subprocess.run(
        [make, "-s", "-C", str(ROOT), "run", f"BIN={tmp_path}", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_make_run_serves_on_the_port_given_and_links_emails_there(tmp_path):
    calls = _make_run(tmp_path, "PORT=8123")
    assert calls[-1] == "http://127.0.0.1:8123 manage.py runserver 127.0.0.1:8123"
    assert all(c.startswith("http://127.0.0.1:8123 ") for c in calls)
    default = _make_run(tmp_path)
    assert default[-1] == "http://127.0.0.1:8000 manage.py runserver 127.0.0.1:8000"
    given = _make_run(tmp_path, "PORT=8124", "SITE_URL=http://devbox:8124")
    assert given[-1] == "http://devbox:8124 manage.py runserver 127.0.0.1:8124"
