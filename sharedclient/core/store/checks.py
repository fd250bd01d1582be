"""Stored identity check results (verified / denied / unknown, with the server's words and the time)."""

from __future__ import annotations

from sharedclient.core.identities import CheckKey, CheckResult, IdentityStatus, check_key
from sharedclient.core.model import Identity
from sharedclient.core.store.profile_db import ProfileDb


class IdentityCheckStore:
    def __init__(self, db: ProfileDb) -> None:
        self.db = db

    def record(self, identity: Identity, result: CheckResult) -> None:
        account, address, mode = check_key(identity)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO identity_check(account, address, mode, status, reason, checked_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (account, address, mode, result.status.value, result.reason, result.checked_at or 0.0),
            )

    def all(self) -> dict[CheckKey, CheckResult]:
        rows = self.db.read("SELECT account, address, mode, status, reason, checked_at FROM identity_check")
        return {
            (r["account"], r["address"], r["mode"]): CheckResult(IdentityStatus(r["status"]), r["reason"], r["checked_at"])
            for r in rows
        }

    def forget(self, address: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM identity_check WHERE address = ?", (address.lower(),))
