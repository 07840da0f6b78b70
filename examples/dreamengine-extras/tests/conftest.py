"""Hypothesis settings for the example's tests: timings on a shared machine vary, so no per-example deadline."""

from hypothesis import settings

settings.register_profile("extras", max_examples=40, deadline=None)
settings.load_profile("extras")
