"""A web process boots ready to serve (`handover.boot.ready_to_serve`):
every view imported, and what it loaded kept out of the garbage
collector's full collections."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOW = (
    "import gc, json; from django.urls import get_resolver; "
    "print(json.dumps({'frozen': gc.get_freeze_count(), "
    "'views': 'url_patterns' in vars(get_resolver())}))"
)


def _boot(code: str) -> dict:
    environ = dict(os.environ, DJANGO_SETTINGS_MODULE="handover.settings")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_web_process_imports_its_views_and_freezes_what_it_loaded():
    for entry in ("handover.wsgi", "handover.asgi"):
        booted = _boot(f"import {entry}; " + SHOW)
        assert booted["views"], entry
        # Django, the URLconf, the API's schema: far more than a bare set-up.
        assert booted["frozen"] > 50_000, (entry, booted)
    plain = _boot("import django; django.setup(); " + SHOW)
    assert plain == {"frozen": 0, "views": False}
