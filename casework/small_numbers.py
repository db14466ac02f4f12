"""Small numbers in published figures: a count from 1 to MIN_CELL - 1 could point at a person, so it is shown
only as "< 5"; a zero identifies no one and is shown. The managers' outcomes and lead times share the rule."""

from __future__ import annotations

from collections.abc import Sequence

MIN_CELL = 5  # a count from 1 to this - 1 is shown as SUPPRESSED
SUPPRESSED = "< 5"
HIDDEN = "hidden"  # a figure that would give a suppressed count away, or a mean or sum of too few

Shown = int | str  # a count, SUPPRESSED or HIDDEN
ShownNumber = float | str | None  # a share, mean or sum; SUPPRESSED or HIDDEN; None when there is nothing to divide


def is_small(count: int, limit: int = MIN_CELL) -> bool:
    """Whether a count must not be shown as it is (1 to `limit` - 1)."""
    return 0 < count < limit


def shown(count: int, limit: int = MIN_CELL) -> Shown:
    """A count as it may be shown: from 1 to `limit` - 1 only as SUPPRESSED (a zero identifies no one)."""
    return SUPPRESSED if is_small(count, limit) else count


def shown_cells(counts: Sequence[int], limit: int = MIN_CELL) -> list[Shown]:
    """The cells of a table whose total is shown: small cells suppressed, and if only one is, the next smallest
    hidden too (else the total minus the others would give it away)."""
    if is_small(sum(counts), limit):
        return [SUPPRESSED for _ in counts]
    small = {n for n, c in enumerate(counts) if is_small(c, limit)}
    hidden: set[int] = set()
    if len(small) == 1 and len(counts) > 1:  # the next smallest shown cell (a zero gives nothing away)
        hidden.add(min((c, n) for n, c in enumerate(counts) if n not in small and c > 0)[1])
    return [SUPPRESSED if n in small else HIDDEN if n in hidden else c for n, c in enumerate(counts)]


def shown_share(part: Shown, whole: Shown, raw_part: int, raw_whole: int, digits: int = 3) -> ShownNumber:
    """A share of a shown total: suppressed (or hidden) when its part or the total is; None when there is no
    total."""
    if raw_whole == 0 and whole not in (SUPPRESSED, HIDDEN):
        return None
    if part == SUPPRESSED or whole == SUPPRESSED:
        return SUPPRESSED
    if part == HIDDEN or whole == HIDDEN:
        return HIDDEN
    return round(raw_part / raw_whole, digits)


def suppressed_mean(value: float | None, count: Shown) -> ShownNumber:
    """A mean (or a sum) of a suppressed count is hidden: "< 5" would read as its value."""
    if count in (SUPPRESSED, HIDDEN):
        return HIDDEN
    return round(value, 2) if value is not None else None
