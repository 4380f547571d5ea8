"""Hypothesis strategies for hostile input, the settings every property test uses, and a
count of the cases each property tried.

Profiles (HYPOTHESIS_PROFILE, default `dev`):
- `ci` (set by .ci/run): derandomized. The examples are a function of the test's source, so
  every CI run tries the same cases and a failure in the log reproduces locally with
  `HYPOTHESIS_PROFILE=ci make test`; the example and a @reproduce_failure blob are printed.
  A change cannot land or fail on a lucky seed. Exploring new cases is the job of the two
  other profiles, which is why CI runs twice the examples a local run does.
- `dev` (plain `make test`): random examples, and Hypothesis's local database replays any
  failure it found before.
- `fuzz` (`make fuzz`): random, at least FUZZ_EXAMPLES examples per property.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

TRIED: Counter[str] = Counter()

FUZZ_EXAMPLES = 20_000
settings.register_profile("dev")
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("fuzz", database=None, print_blob=True)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
settings.load_profile(PROFILE)


def property_settings(examples: int, *, fixtures: bool = False) -> settings:
    """Settings for one property test that runs `examples` cases locally: twice that in CI,
    at least FUZZ_EXAMPLES under `make fuzz`. No deadline: timing is `make bench`'s job."""
    scaled = {"ci": examples * 2, "fuzz": max(examples, FUZZ_EXAMPLES)}.get(PROFILE, examples)
    checks = [HealthCheck.too_slow] + ([HealthCheck.function_scoped_fixture] if fixtures else [])
    return settings(max_examples=scaled, deadline=None, suppress_health_check=checks)


def one_printable_line(message: str) -> bool:
    """What every error message that echoes input must be: one line, nothing a terminal
    would interpret (str.splitlines also splits on \x1c-\x1e, \x85, \u2028 ...)."""
    return bool(message) and len(message.splitlines()) == 1 and message.isprintable()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, sample: Any, max_changes: int = 3) -> Any:
    """A valid document with a few fields deleted or replaced by arbitrary JSON."""
    document = copy.deepcopy(sample)
    for _ in range(draw(st.integers(min_value=1, max_value=max_changes))):
        paths = _paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return document
