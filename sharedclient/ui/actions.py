"""Message actions and whether the current mailbox's rights allow them (RFC 4314)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QT_TRANSLATE_NOOP

from sharedclient.core.model import Folder


@dataclass(frozen=True)
class ActionRule:
    needs: str  # all of these rights
    reason: str  # shown in the tooltip when a right is missing; translated when shown (context "actions")


RULES = {
    "toggle_read": ActionRule("s", QT_TRANSLATE_NOOP("actions", "You may not change the read state here (missing right “s”).")),
    "toggle_flag": ActionRule("w", QT_TRANSLATE_NOOP("actions", "You may not flag or tag messages here (missing right “w”).")),
    "delete": ActionRule("t", QT_TRANSLATE_NOOP("actions", "You may not delete messages here (missing right “t”).")),
}


def allowed(action: str, folder: Folder | None) -> tuple[bool, str]:
    """(allowed, reason if not) for ``action`` in ``folder``."""
    if folder is None:
        return False, QCoreApplication.translate("actions", "Choose a mailbox first.")
    rule = RULES[action]
    if all(r in folder.rights for r in rule.needs):
        return True, ""
    return False, QCoreApplication.translate("actions", rule.reason)
