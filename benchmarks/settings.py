"""Settings for benchmark runs only: the product settings plus a URLconf
that adds a Django admin change list and a floor view for comparison.
Production never loads this module."""

from handover.settings import *  # noqa: F403
from handover.settings import BASE_DIR, TEMPLATES

ROOT_URLCONF = "benchmarks.urls"
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "benchmarks" / "templates"]

# The sign-in section sends a few hundred attempts from 127.0.0.1 within
# minutes, after the pages section's own sign-ins; under the product's
# per-address limit (30 in 10 minutes) every timed attempt was answered
# 429 by the limiter, so the rows compared two refusals that never reached
# the password check. The limiter still counts every attempt here; it only
# never refuses. The lockout (axes) the section measures is separate.
RATE_LIMITS = {"ip": (1_000_000, 600), "email": (1_000_000, 3600)}
