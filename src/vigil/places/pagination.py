"""Pages of a list that cost the same at any size: a count that stops at a cap, and a bounded
number of pages (past them, a person narrows the filter instead of paging on)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.core.paginator import Paginator

# Counted exactly up to this many rows; above it the list says "more than 1,000".
COUNT_CAP = 1000
# Pages offered at most: deeper pages cost a scan of every row before them, and nobody reads a
# list of places past its thousandth row (they search or filter).
MAX_PAGES = 20


class CappedPaginator(Paginator):
    """A Paginator whose `count` runs `SELECT COUNT(*) FROM (… LIMIT cap + 1)`, whose pages stop
    at MAX_PAGES, and that says whether rows were left beyond them (`more`)."""

    def __init__(self, object_list: Any, per_page: int, **kwargs: Any) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.cap = max(COUNT_CAP, per_page * MAX_PAGES)

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        return self.object_list[: self.cap + 1].count()  # type: ignore[attr-defined]

    @property
    def more(self) -> bool:
        """Whether there are more rows than the count says (and the pages show)."""
        return self.count > self.cap

    @property
    def shown_count(self) -> int:
        return min(self.count, self.cap)

    @cached_property
    def num_pages(self) -> int:  # type: ignore[override]
        return min(super().num_pages, MAX_PAGES)
