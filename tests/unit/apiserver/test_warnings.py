"""Per-request warnings: deduplicated, control characters dropped, and capped in total size as upstream's recorder."""

from __future__ import annotations

import contextvars

import pytest

from pybernetes.apiserver import warnings as warn


def recorded(*messages: str, total: int | None = None, item: int | None = None,
             monkeypatch: pytest.MonkeyPatch | None = None) -> list[str]:
    if monkeypatch is not None:
        monkeypatch.setattr(warn, "TOTAL_RUNES", total)
        monkeypatch.setattr(warn, "ITEM_RUNES", item)

    def run() -> list[str]:
        lst = warn.start()
        for m in messages:
            warn.add(m)
        return list(lst)
    return contextvars.copy_context().run(run)


@pytest.mark.parametrize(("messages", "expected"), [
    (("a", "b", "a"), ["a", "b"]),                                  # deduplicated, first order kept
    (("", "x"), ["x"]),                                             # empty text is no warning
    (("bad\nline", "tab\there", "del\x7f", "c1\x85", "ok"), ["ok"]),  # NewWarningHeader refuses control characters
    (("Iñtërnâtiô",), ["Iñtërnâtiô"]),
])
def test_dedup_and_refusals(messages: tuple[str, ...], expected: list[str]) -> None:
    assert recorded(*messages) == expected


def test_add_outside_a_request_is_ignored() -> None:
    def run() -> None:
        warn.add("nobody listens")                                  # no recorder in this context: no error
    contextvars.Context().run(run)


def test_truncation_as_upstream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Upstream's TestTruncation case (limits 25 runes in all, 5 per item once truncating), runes not bytes."""
    first = ("aaaaaaaaaa", "aaaaaaaaaa", "bb", "ccc", "Iñtërnâtiô")
    assert recorded(*first, total=25, item=5, monkeypatch=monkeypatch) == ["aaaaaaaaaa", "bb", "ccc", "Iñtërnâtiô"]
    more = ("e", "ffffffffff", "ffffffffff", "gggggggggg", "h")     # "e" goes over: everything is cut and replayed
    assert recorded(*first, *more, total=25, item=5, monkeypatch=monkeypatch) == [
        "aaaaa", "bb", "ccc", "Iñtër", "e", "fffff", "ggggg"]        # the last one over the limit goes in; "h" not


def test_default_cap_keeps_headers_few() -> None:
    """Hundreds of unknown-field warnings (fieldValidation=Warn on a fuzzed body) stay within 4 Ki runes + one."""
    long = [f'unknown field "spec.template.spec.containers[0].f{i:04d}"' for i in range(1000)]
    out = recorded(*long)
    assert len(out) < 100 and sum(map(len, out)) <= warn.TOTAL_RUNES + warn.ITEM_RUNES
    assert out == long[:len(out)]                                   # each under 256 runes: none is cut
    huge = ["x" * 5000, "y" * 10]
    assert recorded(*huge) == ["x" * 256, "y" * 10]                 # one oversized warning starts truncation


def test_header_value_escapes_quotes_and_backslashes() -> None:
    assert warn.header_value('unknown field "a\\b"') == '299 - "unknown field \\"a\\\\b\\""'
