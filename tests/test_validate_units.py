"""validate's bookkeeping without a server."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from perseus.validate.compare import union_length


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20)), max_size=25), st.integers(0, 30), st.integers(1, 60))
def test_busy_time_is_the_union_of_batches_inside_the_window(spans, lo, length):
    """Against a grid of unit cells: batches repeat (one row per request) and overlap."""
    starts = np.array([s for s, _ in spans], dtype=float)
    ends = starts + np.array([d for _, d in spans], dtype=float)
    covered = np.zeros(100, dtype=bool)
    for s, e in zip(starts.astype(int), ends.astype(int)):
        covered[s:e] = True
    expected = covered[lo:lo + length].sum()
    assert union_length(np.concatenate([starts, starts]), np.concatenate([ends, ends]), lo, lo + length) == expected
