"""``templates`` and ``notes`` command lines: bad input is one sentence, checked before any connection."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sharedclient.app import main


def run(tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--basedir", str(tmp_path), *argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (["notes", "work:INBOX"], "Use: notes MAILBOX UID [--json], or notes add MAILBOX UID --text TEXT."),
        (["notes", "work:INBOX", "abc"], "Use: notes MAILBOX UID"),
        (["notes", "add", "work:INBOX", "3"], "Give the note's text with --text."),
        (["notes", "add", "work:INBOX", "3", "--text", "   "], "Give the note's text with --text."),
        (["notes", "work:INBOX", "3", "--text", "hi"], "--text is for adding a note"),
    ],
)
def test_notes_usage(tmp_path: Path, argv: list[str], sentence: str) -> None:
    code, out, err = run(tmp_path, *argv)
    assert code == 1 and out == "" and sentence in err and "Traceback" not in err


def test_template_body_file_problems_are_sentences(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "templates", "add", "work:INBOX", "--name", "N", "--body-file", str(tmp_path / "no"))
    assert code == 1 and "The body file" in err and "cannot be read" in err
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Grüße".encode("latin-1"))
    code, _, err = run(tmp_path, "templates", "add", "work:INBOX", "--name", "N", "--body-file", str(latin1))
    assert code == 1 and "is not UTF-8 text" in err


def test_templates_needs_an_action(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run(tmp_path, "templates")
    assert exc.value.code == 2 and "ACTION" in capsys.readouterr().err
