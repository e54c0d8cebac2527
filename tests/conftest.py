"""Hypothesis profiles: a quick one by default, a thorough one in CI.

``CI=true`` (set by GitHub Actions, GitLab CI and most others) selects ``thorough``;
``HYPOTHESIS_PROFILE=quick|thorough`` chooses explicitly. A test that needs fewer examples
than the others (a second-order check costs many first-order ones) asks for a share of the
profile's count with ``helpers.examples``, so both profiles scale it.
"""

from __future__ import annotations

import os

from hypothesis import settings

# No deadline: the machines the suite runs on are shared, and a slow first call (an import,
# a cache filling) is not a failure.
settings.register_profile("quick", max_examples=20, deadline=None)
settings.register_profile("thorough", max_examples=80, deadline=None, print_blob=True)

_ci = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("thorough" if _ci else "quick"))
