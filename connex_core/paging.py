"""Paging through API listings, with loop detection.

Modelled on the Singer SDK's ``BaseAPIPaginator``: a paginator holds the current page token
(``current_value``), and after each response :meth:`BasePaginator.advance` asks
:meth:`~BasePaginator.has_more` whether there is another page and :meth:`~BasePaginator.get_next`
for its token. As in the Singer SDK, a next token equal to the current one is a paging loop and
raises :class:`PagingLoopError` instead of requesting the same page for ever.

Page-number and offset paging compute the next token themselves (it always differs), so a server
that ignores the page parameter would loop with different tokens: those styles also compare each
non-empty page with the one before (its ``fingerprint``, by default the page's records) and raise
when a page repeats.

One class per style:

* :class:`PageNumberPaginator`: ``page=1, 2, ...`` (ShipStation ``page``/``pages``, Xero ``page``);
* :class:`OffsetPaginator`: a start position advanced by the records read (QuickBooks
  ``STARTPOSITION``/``MAXRESULTS``);
* :class:`CursorPaginator`: an opaque next token from the response.

Use :meth:`BasePaginator.pages` with a function that fetches one page for a token::

    for page in PageNumberPaginator(items=lambda r: r["orders"], page_count=lambda r: r["pages"]).pages(fetch):
        ...
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Iterator, Optional, TypeVar

__all__ = ["PagingLoopError", "BasePaginator", "PageNumberPaginator", "OffsetPaginator", "CursorPaginator"]

T = TypeVar("T")
R = TypeVar("R")


class PagingLoopError(RuntimeError):
    """The API answered in a way that would page for ever (a repeated token or a repeated page)."""


class BasePaginator(Generic[T]):
    """The paging state of one listing: the current token, how many pages were read, whether it is done."""

    def __init__(self, start_value: T, *, fingerprint: Optional[Callable[[Any], Any]] = None):
        self._value: T = start_value
        self._fingerprint = fingerprint
        self._previous_print: Any = None
        self._previous_value: Optional[T] = None
        self._finished = False
        self.count = 0
        """Pages read so far."""

    @property
    def current_value(self) -> T:
        """The token of the page to request next (of the page just read, once finished)."""
        return self._value

    @property
    def finished(self) -> bool:
        return self._finished

    def has_more(self, response: Any) -> bool:
        """Whether another page follows ``response`` (default: yes, until :meth:`get_next` gives None)."""
        return True

    def get_next(self, response: Any) -> Optional[T]:
        """The token of the page after ``response``; None when there is none."""
        raise NotImplementedError

    def describe(self, token: Any) -> str:
        return repr(token)

    def advance(self, response: Any) -> None:
        """Take in the page just read: check for a loop, then move to the next token or finish."""
        self.count += 1
        if self._fingerprint is not None:
            current = self._fingerprint(response)
            if current is not None and self._previous_print is not None and current == self._previous_print:
                raise PagingLoopError(f"page {self.describe(self._value)} repeats page "
                                      f"{self.describe(self._previous_value)} (a paging loop: the API ignored the "
                                      f"paging parameter); stopped after {self.count} pages")
            self._previous_print = current
        if not self.has_more(response):
            self._finished = True
            return
        new_value = self.get_next(response)
        if new_value is None or new_value == "":
            self._finished = True
            return
        if new_value == self._value:
            raise PagingLoopError(f"the next page token {self.describe(new_value)} is the one just read "
                                  f"(a paging loop); stopped after {self.count} pages")
        self._previous_value, self._value = self._value, new_value

    def pages(self, fetch: Callable[[T], R]) -> Iterator[R]:
        """Fetch and yield every page: ``fetch(token)`` returns one response; a loop raises before its page is yielded."""
        while not self._finished:
            response = fetch(self._value)
            self.advance(response)
            yield response


def _records_or_none(items: Callable[[Any], list]) -> Callable[[Any], Any]:
    def fingerprint(response: Any) -> Any:
        return items(response) or None

    return fingerprint


class PageNumberPaginator(BasePaginator[int]):
    """Pages numbered from ``start`` (1). It ends at an empty page, at ``page_count(response)`` when the API
    says how many pages there are, or at a short page when ``page_size`` is given."""

    def __init__(self, *, items: Callable[[Any], list], start: int = 1,
                 page_count: Optional[Callable[[Any], Optional[int]]] = None, page_size: Optional[int] = None,
                 fingerprint: Optional[Callable[[Any], Any]] = None):
        super().__init__(start, fingerprint=fingerprint or _records_or_none(items))
        self._items, self._page_count, self._page_size = items, page_count, page_size

    def describe(self, token: Any) -> str:
        return str(token)

    def has_more(self, response: Any) -> bool:
        records = self._items(response)
        if not records:
            return False
        if self._page_size is not None and len(records) < self._page_size:
            return False
        count = self._page_count(response) if self._page_count is not None else None
        return count is None or self._value < int(count)

    def get_next(self, response: Any) -> Optional[int]:
        return self._value + 1


class OffsetPaginator(BasePaginator[int]):
    """A start position (``start``: 0, or 1 for QuickBooks) advanced by the records of each page; a page
    shorter than ``page_size`` is the last."""

    def __init__(self, *, items: Callable[[Any], list], page_size: int, start: int = 0,
                 fingerprint: Optional[Callable[[Any], Any]] = None):
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        super().__init__(start, fingerprint=fingerprint or _records_or_none(items))
        self._items, self.page_size = items, page_size

    def describe(self, token: Any) -> str:
        return f"at offset {token}"

    def has_more(self, response: Any) -> bool:
        return len(self._items(response)) >= self.page_size

    def get_next(self, response: Any) -> Optional[int]:
        return self._value + len(self._items(response))


class CursorPaginator(BasePaginator[Optional[str]]):
    """An opaque token: ``next_token(response)`` gives the next page's (None or empty when there is none)."""

    def __init__(self, *, next_token: Callable[[Any], Optional[str]], start: Optional[str] = None,
                 fingerprint: Optional[Callable[[Any], Any]] = None):
        super().__init__(start, fingerprint=fingerprint)
        self._next_token = next_token

    def get_next(self, response: Any) -> Optional[str]:
        return self._next_token(response)
