from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharedclient.core.mime.filenames import MAX_NAME_BYTES, safe_filename, save_attachment


@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("C:\\Windows\\system32\\evil.dll", "evil.dll"),
        ("\\\\host\\share\\x.txt", "x.txt"),
        ("inv\x00oice.pdf", "invoice.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("..", "attachment"),
        ("", "attachment"),
        ("report.pdf", "report.pdf"),
        ("Rechnung März.pdf", "Rechnung März.pdf"),
    ],
)
def test_hostile_names(hostile: str, expected: str) -> None:
    assert safe_filename(hostile) == expected


def test_long_names_keep_their_extension() -> None:
    name = safe_filename("a" * 300 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode()) <= MAX_NAME_BYTES


def test_saving_never_overwrites_and_stays_inside(tmp_path: Path) -> None:
    first = save_attachment(tmp_path, "../x.txt", b"one")
    second = save_attachment(tmp_path, "x.txt", b"two")
    assert first == tmp_path / "x.txt" and second == tmp_path / "x (2).txt"
    assert first.read_bytes() == b"one" and second.read_bytes() == b"two"


@settings(max_examples=2000)
@given(st.text(max_size=320))
def test_any_name_stays_inside_the_folder(name: str) -> None:
    safe = safe_filename(name)
    assert safe and "/" not in safe and "\\" not in safe and "\x00" not in safe and safe not in (".", "..")
    assert len(safe.encode()) <= MAX_NAME_BYTES
