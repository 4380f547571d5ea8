"""Hypothesis strategies for hostile input, and a count of the cases each property tried."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from hypothesis import strategies as st

TRIED: Counter[str] = Counter()

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
