"""The README's command reference lists every command the parser knows (regenerate with --update)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# packaging/ is a folder of scripts, not a package (and "packaging" is also a PyPI library): load by path
_spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "packaging" / "cli_reference.py")
assert _spec is not None and _spec.loader is not None
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)
END, START, commands, section = ref.END, ref.START, ref.commands, ref.section


def test_readme_command_reference_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert START in text and END in text
    current = text[text.index(START) : text.index(END) + len(END)]
    assert current == section(), "README.md is out of date: run `python packaging/cli_reference.py --update`"


def test_reference_covers_nested_commands_and_json() -> None:
    found = {name: has_json for name, _help, has_json in commands()}
    assert found["identity check"] is False and found["log"] is True and "outbox delete" in found
