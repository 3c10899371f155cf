"""Test-wide settings. Under CI, hypothesis draws the same examples every run and has no
per-example deadline, so a loaded 2-core machine cannot turn a green change red by chance;
locally it keeps exploring new examples on each run."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
