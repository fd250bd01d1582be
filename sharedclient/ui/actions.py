"""Message actions and whether the current mailbox's rights allow them (RFC 4314)."""

from __future__ import annotations

from dataclasses import dataclass

from sharedclient.core.model import Folder


@dataclass(frozen=True)
class ActionRule:
    needs: str  # all of these rights
    reason: str  # shown in the tooltip when a right is missing


RULES = {
    "toggle_read": ActionRule("s", "You may not change the read state here (missing right “s”)."),
    "toggle_flag": ActionRule("w", "You may not flag or tag messages here (missing right “w”)."),
    "delete": ActionRule("t", "You may not delete messages here (missing right “t”)."),
}


def allowed(action: str, folder: Folder | None) -> tuple[bool, str]:
    """(allowed, reason if not) for ``action`` in ``folder``."""
    if folder is None:
        return False, "Choose a mailbox first."
    rule = RULES[action]
    if all(r in folder.rights for r in rule.needs):
        return True, ""
    return False, rule.reason
