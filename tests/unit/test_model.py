import pytest

from sharedclient.core.errors import UsageError
from sharedclient.core.model import parse_host_port, validate_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("imap.example.com:993", ("imap.example.com", 993)),
        ("127.0.0.1:1143", ("127.0.0.1", 1143)),
        ("[::1]:465", ("::1", 465)),
        (" localhost:25 ", ("localhost", 25)),
    ],
)
def test_host_port_accepts_the_usual_forms(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["imap.example.com", ":993", "host:", "host:0", "host:70000", "host:99x", "a b:1", "::1:993", "[::1]"])
def test_host_port_rejects_malformed_input_with_a_sentence(text: str) -> None:
    with pytest.raises(UsageError, match="not of the form HOST:PORT"):
        parse_host_port(text, "IMAP server")


@pytest.mark.parametrize("addr", ["alice@example.com", "a.b+tag@sub.example.org", "support@example.test"])
def test_valid_addresses(addr: str) -> None:
    assert validate_address(addr) == addr


@pytest.mark.parametrize(
    "addr", ["alice", "alice@", "@example.com", "a@b@c", "Alice <a@example.com>", "a@example.com\r\nBcc: x@y", "a..b@x.y", ""]
)
def test_invalid_addresses(addr: str) -> None:
    with pytest.raises(UsageError, match="not a valid e-mail address"):
        validate_address(addr)
