"""Drafts kept locally and saved often, so a crash or a closed window never loses what was typed.

One JSON file per draft under the profile's data dir, written atomically (temp file + fsync + rename):
after ``kill -9`` the previous autosave is intact, at most one autosave interval of typing is lost.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from sharedclient.core.errors import StorageError
from sharedclient.core.fileio import atomic_write

log = logging.getLogger(__name__)

AUTOSAVE_SECONDS = 10


@dataclass(frozen=True)
class Draft:
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    identity: str = ""  # address of the chosen identity
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""
    attachments: tuple[str, ...] = ()  # file paths
    in_reply_to: str = ""  # ACCOUNT:PATH:UID of the original, for replies and forwards
    reply_kind: str = ""  # "", "reply", "reply-all", "forward"
    request_dsn: bool | None = None  # delivery reports: None = as the identity says (ui.tracking toggles)
    request_receipt: bool = False  # ask for a read receipt
    updated_at: float = 0.0

    @property
    def is_empty(self) -> bool:
        return not (self.to or self.cc or self.bcc or self.subject.strip() or self.body.strip() or self.attachments)


class DraftStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, draft_id: str) -> Path:
        if not draft_id.isalnum():
            raise StorageError(f"“{draft_id}” is not a draft id.")
        return self.directory / f"{draft_id}.json"

    def save(self, draft: Draft) -> Draft:
        """Persist ``draft``; on failure (disk full…) the previous version stays intact and this raises."""
        draft = replace(draft, updated_at=time.time())
        data = json.dumps(asdict(draft), ensure_ascii=False, indent=1).encode("utf-8")
        atomic_write(self._path(draft.id), data)
        return draft

    def load(self, draft_id: str) -> Draft:
        try:
            data = json.loads(self._path(draft_id).read_text(encoding="utf-8"))
            for key in ("to", "cc", "bcc", "attachments"):
                data[key] = tuple(data.get(key, ()))
            return Draft(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise StorageError(f"The draft {draft_id} cannot be read ({exc}); the file is kept as it is.") from exc

    def pending(self) -> list[Draft]:
        """Drafts left behind (crash, or closed with "keep"), newest first; unreadable ones are skipped."""
        drafts = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                drafts.append(self.load(path.stem))
            except StorageError as exc:
                log.warning("%s", exc.user_message)
        return sorted(drafts, key=lambda d: d.updated_at, reverse=True)

    def delete(self, draft_id: str) -> None:
        self._path(draft_id).unlink(missing_ok=True)
