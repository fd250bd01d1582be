import pytest

from sharedclient.core.imap.rights import describe_rights, is_read_only, normalise_rights


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("lrswipkxteacd", "lrswipkxtea"), ("lrs", "lrs"), ("rl", "lr"), ("lrswicd", "lrswikxte"), ("", "")],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise_rights(raw) == expected


def test_words_for_read_only() -> None:
    assert describe_rights("lrs") == "read, mark as read; cannot delete, file or flag"
    assert is_read_only("lrs")


def test_words_for_full_rights() -> None:
    text = describe_rights("lrswipkxtea")
    assert "delete messages" in text and "administer" in text and "cannot" not in text
    assert not is_read_only("lrswipkxtea")
