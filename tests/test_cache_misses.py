"""The bounded cache and the look-up misses the hot paths fill."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nbwarden.caches import BoundedCache, misses


def test_a_full_cache_empties_before_it_takes_more() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.put("c", 3) == 3
    assert dict(cache) == {"c": 3}


@given(st.lists(st.none() | st.integers()))
def test_misses_are_the_positions_of_none_even_when_filled_as_they_come(
    found: list[int | None],
) -> None:
    expected = [position for position, value in enumerate(found) if value is None]
    assert list(misses(list(found))) == expected
    filled = list(found)
    seen = []
    for position in misses(filled):
        seen.append(position)
        filled[position] = -1
    assert seen == expected and None not in filled
