"""The one way every handler keeps its dependencies: built once per container, on first use."""
from __future__ import annotations

from estate_handlers.runtime import once


def test_once_builds_on_first_use_and_returns_the_same_object_after():
    built = []
    current = once(lambda: built.append(object()) or built[-1])
    assert built == []
    first = current()
    assert current() is first
    assert len(built) == 1
