"""From the composer's autosaved :class:`~sharedclient.core.drafts.Draft` to an :class:`OutgoingMessage`.

The draft stores what the person typed (recipient texts, file paths, the original as ``ACCOUNT:PATH:UID``);
here it is checked strictly (addresses, identity, files) so the GUI gets one sentence for the first problem,
before anything is queued. The draft's body is sent as written: pre-fill it with the quote from
:func:`~sharedclient.core.mime.reply.reply_message` when opening a reply.
"""

from __future__ import annotations

from dataclasses import replace

from sharedclient.core.drafts import Draft
from sharedclient.core.errors import UsageError
from sharedclient.core.identities import find_identity
from sharedclient.core.mime.addresses import parse_mailbox_list
from sharedclient.core.mime.compose import AttachmentFile, OutgoingMessage
from sharedclient.core.mime.reply import Original, original_attachments
from sharedclient.core.settings import Settings
from sharedclient.core.store.outbox import OriginalRef


def outgoing_from_draft(
    draft: Draft, settings: Settings, original: Original | None = None
) -> tuple[OutgoingMessage, OriginalRef | None]:
    """The message to send and the original to flag afterwards (``None`` for a new message).

    ``original``: the parsed original (``read_original(raw)``) for replies and forwards; it supplies
    In-Reply-To/References, and for a forward its attachments.
    """
    if not draft.identity:
        raise UsageError("Choose the address to send from.")
    identity = find_identity(settings, draft.identity)
    kind = "forward" if draft.reply_kind == "forward" else "reply"
    ref = OriginalRef.parse(draft.in_reply_to, kind) if draft.in_reply_to else None
    message = OutgoingMessage(
        identity=identity,
        to=tuple(parse_mailbox_list(draft.to)),
        cc=tuple(parse_mailbox_list(draft.cc)),
        bcc=tuple(parse_mailbox_list(draft.bcc)),
        subject=draft.subject,
        body=draft.body,
        attachments=tuple(AttachmentFile.from_path(p) for p in draft.attachments),
        request_dsn=draft.request_dsn,
        request_receipt=draft.request_receipt,
    )
    if original is not None and kind == "reply":
        refs = (*original.references, *((original.message_id,) if original.message_id else ()))
        message = replace(message, in_reply_to=original.message_id, references=refs)
    elif original is not None:
        message = replace(message, attachments=(*original_attachments(original), *message.attachments))
    return message, ref
