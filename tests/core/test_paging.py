"""connex_core.paging: every paging style ends where the API says, and a loop raises instead of running for ever."""

from __future__ import annotations

import pytest

from connex_core.paging import (BasePaginator, CursorPaginator, OffsetPaginator, PageNumberPaginator,
                                PagingLoopError)


def _pages(records: list[int], size: int) -> dict[int, dict]:
    chunks = [records[i:i + size] for i in range(0, len(records), size)] or [[]]
    return {n: {"items": chunk, "pages": len(chunks)} for n, chunk in enumerate(chunks, 1)}


def test_page_numbers_follow_the_page_count_and_stop_there():
    served = _pages(list(range(25)), 10)
    asked: list[int] = []

    def fetch(page: int) -> dict:
        asked.append(page)
        return served.get(page, {"items": [], "pages": 3})

    got = [r for page in PageNumberPaginator(items=lambda r: r["items"], page_count=lambda r: r["pages"]).pages(fetch)
           for r in page["items"]]
    assert got == list(range(25)) and asked == [1, 2, 3]


def test_page_numbers_stop_at_a_short_page_when_the_size_is_known():
    served = _pages(list(range(25)), 10)
    asked: list[int] = []

    def fetch(page: int) -> dict:
        asked.append(page)
        return served[page]

    paginator = PageNumberPaginator(items=lambda r: r["items"], page_size=10)
    assert sum(len(p["items"]) for p in paginator.pages(fetch)) == 25 and asked == [1, 2, 3]
    assert paginator.finished and paginator.count == 3


def test_page_numbers_stop_at_an_empty_page():
    paginator = PageNumberPaginator(items=lambda r: r)
    assert list(paginator.pages(lambda page: [page] if page < 4 else [])) == [[1], [2], [3], []]


def test_a_server_that_ignores_the_page_number_is_a_loop():
    asked: list[int] = []

    def fetch(page: int) -> dict:
        asked.append(page)
        return {"items": [1, 2, 3], "pages": 50}

    paginator = PageNumberPaginator(items=lambda r: r["items"], page_count=lambda r: r["pages"])
    seen = []
    with pytest.raises(PagingLoopError, match=r"page 2 repeats page 1 \(a paging loop"):
        for page in paginator.pages(fetch):
            seen.append(page)
    assert asked == [1, 2] and len(seen) == 1  # the repeated page is not handed on


def test_offsets_advance_by_the_records_read_from_a_start_of_one():
    rows = list(range(1, 2501))
    asked: list[int] = []

    def fetch(start: int) -> list[int]:
        asked.append(start)
        return rows[start - 1:start - 1 + 1000]

    got = [r for page in OffsetPaginator(items=lambda r: r, page_size=1000, start=1).pages(fetch) for r in page]
    assert got == rows and asked == [1, 1001, 2001]


def test_offsets_of_an_exact_multiple_end_with_one_empty_page():
    rows = list(range(20))
    asked: list[int] = []

    def fetch(start: int) -> list[int]:
        asked.append(start)
        return rows[start:start + 10]

    assert sum(len(p) for p in OffsetPaginator(items=lambda r: r, page_size=10).pages(fetch)) == 20
    assert asked == [0, 10, 20]


def test_a_server_that_ignores_the_offset_is_a_loop_detected_by_fingerprint():
    asked: list[int] = []

    def fetch(start: int) -> list[dict]:
        asked.append(start)
        return [{"Id": str(i)} for i in range(1, 11)]  # always the first page

    paginator = OffsetPaginator(items=lambda r: r, page_size=10, start=1, fingerprint=lambda r: r[0]["Id"] if r else None)
    with pytest.raises(PagingLoopError, match="repeats"):
        list(paginator.pages(fetch))
    assert asked == [1, 11]


def test_offset_page_size_must_be_positive():
    with pytest.raises(ValueError):
        OffsetPaginator(items=lambda r: r, page_size=0)


def test_cursors_follow_the_next_token_until_there_is_none():
    chain = {None: ("a", [1, 2]), "a": ("b", [3]), "b": (None, [4, 5])}
    asked: list = []

    def fetch(token):
        asked.append(token)
        return {"next": chain[token][0], "items": chain[token][1]}

    got = [x for page in CursorPaginator(next_token=lambda r: r["next"]).pages(fetch) for x in page["items"]]
    assert got == [1, 2, 3, 4, 5] and asked == [None, "a", "b"]


def test_a_cursor_that_points_at_itself_is_a_loop():
    def fetch(token):
        return {"next": "same", "items": [token]}

    paginator = CursorPaginator(next_token=lambda r: r["next"])
    with pytest.raises(PagingLoopError, match="'same' is the one just read"):
        list(paginator.pages(fetch))
    assert paginator.count == 2 and paginator.current_value == "same"


def test_an_empty_cursor_ends_the_listing():
    paginator = CursorPaginator(next_token=lambda r: "")
    assert list(paginator.pages(lambda token: {"token": token})) == [{"token": None}] and paginator.finished


def test_the_base_class_needs_get_next_and_detects_an_unchanged_token():
    class Stuck(BasePaginator[int]):
        def get_next(self, response):
            return 7

    paginator = Stuck(7)
    with pytest.raises(PagingLoopError):
        paginator.advance({})
    with pytest.raises(NotImplementedError):
        BasePaginator(0).advance({})
