"""Wiring of the team desk into the window: the notes panel under the message, and in every composer
a "Templates…" button (Ctrl+T) and "Save as template…".

Which templates a composer offers: those of the shared mailbox it answers from (the folder of the
message being answered, else the mailbox the chosen identity belongs to), then the user's personal ones.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from datetime import date
from email.headerregistry import Address
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QPushButton

from sharedclient.core.errors import SharedClientError
from sharedclient.core.identities import own_identity
from sharedclient.core.mime.filenames import save_attachment
from sharedclient.core.mime.reply import Original, attribution
from sharedclient.core.model import Identity, Section
from sharedclient.core.settings import Settings
from sharedclient.core.teamdesk.placeholders import context_for
from sharedclient.core.teamdesk.service import TeamDesk, author_address
from sharedclient.core.teamdesk.templates import Template, TemplateList
from sharedclient.ui.bridge import MainThreadBridge
from sharedclient.ui.composer import Composer
from sharedclient.ui.notespanel import NotesController
from sharedclient.ui.palette import tone
from sharedclient.ui.templatepicker import SaveTemplateDialog, TemplatePicker, insert_filled

log = logging.getLogger(__name__)
FORWARD_MARK = "-------- Forwarded message --------"


def install_teamdesk(window: object, settings: Callable[[], Settings] | None) -> NotesController:
    """Called once by ``launch.build_window`` after the window's sending is set up."""

    def author_for(account_name: str) -> Address:
        if settings is not None:
            me = own_identity(settings(), account_name)
            return author_address(me.name, me.address)
        return author_address("", window.controller.accounts[account_name].email)  # type: ignore[attr-defined]

    notes = NotesController(window, author_for)
    window.notes = notes  # type: ignore[attr-defined]
    sending = getattr(window, "sending", None)
    if sending is not None:
        sending.composer_opened.connect(
            lambda composer, original: ComposerTemplates(composer, original, window, author_for)
        )
    return notes


class ComposerTemplates(QObject):
    """The composer's template buttons; lives as long as its composer (its child)."""

    def __init__(self, composer: Composer, original: Original | None, window: object,
                 author_for: Callable[[str], Address]) -> None:  # fmt: skip
        super().__init__(composer)
        self.composer = composer
        self.original = original
        self.window = window
        self._author_for = author_for
        self._bridge = MainThreadBridge(self)
        self.picker: TemplatePicker | None = None
        self.save_dialog: SaveTemplateDialog | None = None
        composer.templates = self  # type: ignore[attr-defined] - tests and hooks reach it from the composer
        self.templates_button = QPushButton(self.tr("Templates…"))
        self.templates_button.setObjectName("templatesButton")
        self.templates_button.setToolTip(self.tr("Insert a canned response at the cursor (Ctrl+T)"))
        self.templates_button.clicked.connect(self.open_picker)
        self.save_button = QPushButton(self.tr("Save as template…"))
        self.save_button.setObjectName("saveTemplateButton")
        self.save_button.setToolTip(self.tr("Keep this text as a template for the team"))
        self.save_button.clicked.connect(self.save_as_template)
        row = composer.button_row
        row.insertWidget(2, self.templates_button)
        row.insertWidget(3, self.save_button)
        # Ctrl+T from every field, caught like the composer's Ctrl+Enter: the text edits would otherwise
        # accept the ShortcutOverride (a QShortcut also misses keys while the window is not yet active).
        for widget in (composer.to_field, composer.cc_field, composer.bcc_field, composer.subject, composer.body,
                       composer.from_picker, composer.attachments):  # fmt: skip
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride):
            key, mods = event.key(), event.modifiers()  # type: ignore[attr-defined] - a QKeyEvent here
            if key == Qt.Key.Key_T and mods & Qt.KeyboardModifier.ControlModifier and not mods & ~(
                Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.KeypadModifier
            ):
                if event.type() == QEvent.Type.KeyPress:
                    self.open_picker()
                event.accept()
                return True
        return super().eventFilter(watched, event)

    # -- where -------------------------------------------------------------------------------------

    def _answered(self) -> tuple[str, str] | None:
        """(account, mailbox path) of the message being answered, from the draft's reference."""
        ref = self.composer.draft.in_reply_to
        if not ref or ref.count(":") < 2:
            return None
        account, rest = ref.split(":", 1)
        return account, rest.rsplit(":", 1)[0]

    def places(self) -> tuple[TeamDesk | None, list[str]]:
        """The account's desk and the mailboxes to take templates from: the answered message's mailbox, the
        chosen identity's team mailbox, then the personal one (the picker drops duplicates)."""
        controller = self.window.controller  # type: ignore[attr-defined]
        identity = self.composer.current_identity()
        answered = self._answered()
        account = answered[0] if answered else (identity.account if identity else "")
        session = controller.sessions.get(account)
        if session is None:
            return None, []
        folders = controller.folders.get(account, [])
        mailboxes = []
        if answered:
            mailboxes.append(answered[1])
        if identity is not None and identity.mailbox_owner and identity.account == account:
            owner = identity.mailbox_owner.lower()
            team = sorted((f for f in folders if f.section is Section.SHARED and (f.owner or "").lower() == owner
                           and f.selectable), key=lambda f: (f.name.upper() != "INBOX", len(f.path)))  # fmt: skip
            mailboxes += [f.path for f in team[:1]]
        mailboxes.append("INBOX")
        return TeamDesk(session), mailboxes

    def values(self) -> dict[str, str]:
        identity = self.composer.current_identity()
        agent = None
        if identity is not None:
            author = self._author_for(identity.account)
            agent = Identity(author.addr_spec, author.display_name, identity.account)
        return context_for(self.original, identity, agent, date.today())

    # -- inserting ---------------------------------------------------------------------------------

    def open_picker(self) -> TemplatePicker:
        if self.picker is not None:
            self.picker.deleteLater()  # one picker per composer; a late answer for the old one is dropped below
        picker = TemplatePicker(self.values, self.composer)
        self.picker = picker
        desk, mailboxes = self.places()
        if desk is None:
            picker.set_error(self.tr("Templates are not available: the account is not connected."))
        else:
            self._bridge.when_done(
                desk.templates(mailboxes),
                lambda lists: picker.set_lists(lists) if picker is self.picker else None,
                lambda e: picker.set_error(e.user_message) if picker is self.picker else None,
            )
        picker.accepted.connect(lambda: self._insert(picker))
        picker.open()
        return picker

    def _insert(self, picker: TemplatePicker) -> None:
        if picker.chosen is None or picker.filled is None:
            return
        insert_filled(self.composer.body, picker.filled)
        summary = picker.filled.summary()
        if picker.chosen.attachments:
            summary = (summary + " " + self._attach(picker.chosen)).strip()
        self.composer.status.setText(summary)
        self.composer.status.setStyleSheet(f"color: {tone('warning', self.composer)}" if picker.filled.unfilled else "")
        self.composer.body.setFocus()

    def _attach(self, template: Template) -> str:
        try:
            folder = Path(tempfile.mkdtemp(prefix="sharedclient-template-"))
            paths = [str(save_attachment(folder, f.filename, f.data)) for f in template.attachment_files()]
        except SharedClientError as exc:
            return exc.user_message
        self.composer.add_attachments(paths)
        return self.tr("Attached from the template: %s.") % ", ".join(template.attachments)

    # -- saving ------------------------------------------------------------------------------------

    def own_text(self) -> str:
        """The selection, else the body without the quoted original (that belongs to one customer)."""
        cursor = self.composer.body.textCursor()
        if cursor.hasSelection():
            return cursor.selection().toPlainText().strip("\n") + "\n"
        text = self.composer.body.toPlainText()
        marks = [FORWARD_MARK] + ([attribution(self.original)] if self.original is not None else [])
        cut = min((text.find(m) for m in marks if m and text.find(m) >= 0), default=-1)
        if cut >= 0:
            text = text[:cut]
        return text.strip("\n") + "\n" if text.strip() else ""

    def save_as_template(self) -> SaveTemplateDialog:
        if self.save_dialog is not None and not self.save_dialog.isVisible():
            self.save_dialog.deleteLater()
        dialog = SaveTemplateDialog(self.own_text(), self.composer)
        self.save_dialog = dialog
        desk, mailboxes = self.places()
        if desk is None:
            dialog.reason.setText(self.tr("Templates cannot be saved: the account is not connected."))
        else:
            self._bridge.when_done(
                desk.templates(mailboxes),
                lambda lists: dialog.set_destinations(self._destinations(mailboxes, lists))
                if dialog is self.save_dialog else None,
                lambda err: dialog.reason.setText(err.user_message) if dialog is self.save_dialog else None,
            )
        dialog.save_requested.connect(lambda: self._save(dialog, desk))
        dialog.open()
        return dialog

    @staticmethod
    def _destinations(
        mailboxes: list[str], lists: list[TemplateList | SharedClientError]
    ) -> list[tuple[str, str, str]]:
        out, seen = [], set()
        for mailbox, entry in zip(mailboxes, lists, strict=False):
            if isinstance(entry, SharedClientError):
                out.append((mailbox, mailbox, entry.user_message))
                continue
            key = entry.desk.folder.path if entry.desk.folder else entry.desk.create_path or mailbox
            if key in seen:
                continue
            seen.add(key)
            label = "Your mailbox" if entry.desk.owner == "your mailbox" else entry.desk.owner
            out.append((mailbox, label, entry.desk.reason))
        return out

    def _save(self, dialog: SaveTemplateDialog, desk: TeamDesk | None) -> None:
        """Store it; the dialog stays open with the reason when the server refuses (nothing typed is lost)."""
        mailbox = dialog.destination.currentData()
        if desk is None or not mailbox:
            return
        dialog.set_busy(True)
        self._bridge.when_done(
            desk.add_template(
                mailbox, dialog.name.text(), dialog.body.toPlainText(), self._author_for(desk.account.name)
            ),
            lambda result: self._saved(dialog, result[0].name, result[1]),
            lambda err: dialog.failed(err.user_message),
        )

    def _saved(self, dialog: SaveTemplateDialog, name: str, where: str) -> None:
        dialog.accept()
        text = self.tr("Saved the template “%1” in %2.") if where.startswith("your ") else self.tr(
            "Saved the template “%1” in %2; your team sees it now."
        )
        self.composer.status.setText(text.replace("%1", name).replace("%2", where))
