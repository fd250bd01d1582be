"""Write the README's command reference from the argument parser, so it lists every command there is.

    python packaging/cli_reference.py            # print the table
    python packaging/cli_reference.py --update   # rewrite it in README.md between the markers

tests/unit/test_cli_reference.py fails when README.md is out of date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sharedclient.app import build_parser  # noqa: E402

START = "<!-- cli-reference:start (made by packaging/cli_reference.py --update) -->"
END = "<!-- cli-reference:end -->"


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:  # type: ignore[type-arg]
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)  # noqa: SLF001


def commands(parser: argparse.ArgumentParser | None = None, prefix: str = "") -> list[tuple[str, str, bool]]:
    """(command, help, has --json) for every command and subcommand, in the parser's order."""
    parser = parser or build_parser()
    found: list[tuple[str, str, bool]] = []
    sub = _subparsers(parser)
    if sub is None:
        return found
    helps = {choice.dest: choice.help or "" for choice in sub._choices_actions}  # noqa: SLF001
    for name, child in sub.choices.items():
        full = f"{prefix}{name}"
        has_json = any("--json" in a.option_strings for a in child._actions)  # noqa: SLF001
        found.append((full, helps.get(name, ""), has_json))
        found.extend(commands(child, full + " "))
    return found


def table() -> str:
    rows = ["| command | what it does | `--json` |", "| --- | --- | --- |"]
    for name, text, has_json in commands():
        text = text.replace("|", "\\|")
        rows.append(f"| `sharedclient {name}` | {text} | {'yes' if has_json else ''} |")
    return "\n".join(rows)


def section() -> str:
    return f"{START}\n{table()}\n{END}"


def update(readme: Path) -> bool:
    """Rewrite the table in ``readme``; True when it changed."""
    text = readme.read_text(encoding="utf-8")
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    new = before + section() + after
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    if "--update" in sys.argv:
        print("README.md updated" if update(ROOT / "README.md") else "README.md already current")
    else:
        print(table())
