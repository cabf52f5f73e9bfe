"""Settings for benchmark runs only: the product settings plus a URLconf
that adds a Django admin change list and a floor view for comparison.
Production never loads this module."""

from handover.settings import *  # noqa: F403
from handover.settings import BASE_DIR, TEMPLATES

ROOT_URLCONF = "benchmarks.urls"
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "benchmarks" / "templates"]

# The sign-in section sends a few hundred failed attempts from 127.0.0.1
# within minutes (and its hammer ~100 a second); under the product's
# per-address budget (30 failures in 15 minutes, 5 when the installation
# is under attack) every timed attempt was answered 429 before any
# password was checked, so the rows compared two refusals. Here the
# budgets still count every attempt; they only never run out. The lockout
# the section measures (axes, per account) is separate.
SIGNIN_FAILURES_PER_ADDRESS = 1_000_000
SIGNIN_FAILURES_PER_ADDRESS_STRAINED = 1_000_000
SIGNIN_FAILURES_GLOBAL = 1_000_000
RATE_LIMITS = {"ip": (1_000_000, 600), "email": (1_000_000, 3600)}
