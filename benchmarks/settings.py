"""Settings for benchmark runs only: the product settings plus a URLconf
that adds a Django admin change list and a floor view for comparison.
Production never loads this module."""

from handover.settings import *  # noqa: F403
from handover.settings import BASE_DIR, TEMPLATES

ROOT_URLCONF = "benchmarks.urls"
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "benchmarks" / "templates"]
