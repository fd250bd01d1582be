"""``sharedclient mailboxes|sync|messages|show|mark|delete|move``: the read path from a terminal.

Each command opens the same :class:`AccountSession` and header cache file the window uses
(``cache-<account>.sqlite`` in the profile's data directory), so what one syncs the other shows.
A mailbox is named ``ACCOUNT:PATH`` (``work:shared/support@example.com/INBOX``); with a single
account in the profile, ``PATH`` alone is enough.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

from sharedclient.cli.audit_cmds import audit_recorder
from sharedclient.cli.context import CliContext
from sharedclient.core.account_session import AccountSession
from sharedclient.core.errors import NotFoundError, SharedClientError, UsageError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.discovery import mailbox_label
from sharedclient.core.imap.headers import format_addresses
from sharedclient.core.imap.rights import require_rights
from sharedclient.core.imap.session import open_imap
from sharedclient.core.mime.render import render_message, sender_view
from sharedclient.core.model import Account, Folder
from sharedclient.core.store.cache import HeaderCache
from sharedclient.core.store.listing import listing_ids, rows_by_id
from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.core.tracking.matcher import DeliveryTracker
from sharedclient.core.tracking.scan import sync_hook


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("mailboxes", help="list the mailboxes of every account, with rights and counts")
    p.add_argument("--account", metavar="NAME", help="only this account")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_mailboxes)

    p = sub.add_parser("sync", help="fetch new headers and changes of one mailbox into the cache")
    p.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH, e.g. work:INBOX")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("messages", help="sync a mailbox, then list its messages, newest first")
    p.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="at most N messages (0: all; default 50)")
    p.add_argument("--search", metavar="TEXT", default="", help="only messages whose sender/recipients/subject match")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_messages)

    p = sub.add_parser("show", help="print one message (does not mark it as read)")
    p.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH")
    p.add_argument("uid", type=int, metavar="UID")
    p.add_argument("--raw", action="store_true", help="the message exactly as stored on the server")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("mark", help="mark a message read/unread or flag/unflag it")
    p.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH")
    p.add_argument("uid", type=int, metavar="UID")
    how = p.add_mutually_exclusive_group(required=True)
    for flag, dest in (("--read", "read"), ("--unread", "unread"), ("--flag", "flag"), ("--unflag", "unflag")):
        how.add_argument(flag, dest="how", action="store_const", const=dest)
    p.set_defaults(func=cmd_mark)

    p = sub.add_parser("delete", help="delete a message (to the mailbox's Trash when it has one)")
    p.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH")
    p.add_argument("uid", type=int, metavar="UID")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("move", help="move (or --copy) a message to another mailbox of the same account")
    p.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH")
    p.add_argument("uid", type=int, metavar="UID")
    p.add_argument("target", metavar="TARGET_PATH", help="path of the target mailbox in the same account")
    p.add_argument("--copy", action="store_true", help="copy instead of moving")
    p.set_defaults(func=cmd_move)


# -- plumbing ----------------------------------------------------------------------------------------


def cache_path(data_dir: Path, account: Account) -> Path:
    """The header cache file; the window uses the same name (``ui.launch.cache_in``)."""
    return data_dir / f"cache-{account.name}.sqlite"


@contextlib.contextmanager
def open_session(ctx: CliContext, account_name: str) -> Iterator[AccountSession]:
    """An AccountSession for one command; its worker, connection and cache are closed on the way out."""
    profile = ctx.profile()
    account = profile.load().account(account_name)
    password = ctx.credentials().get(account.name, "imap")
    if password is None:
        raise NotFoundError(
            f"No password is stored for account “{account.name}”; remove it and add it again with --password-stdin."
        )
    cache = HeaderCache(cache_path(profile.data_dir, account))
    if cache.rebuilt_notice:
        print(f"sharedclient: {cache.rebuilt_notice}", file=ctx.stderr)
    audit = audit_recorder(ctx)  # a damaged audit trail refuses the command before anything is read
    session = AccountSession(account, lambda: ImapConnection(open_imap(account, password)), cache, audit=audit)
    tracking_db = ProfileDb.for_data_dir(profile.data_dir)
    session.after_sync = sync_hook(DeliveryTracker(tracking_db))  # delivery reports and read receipts
    try:
        yield session
    finally:
        session.close()
        audit.close()
        tracking_db.close()


def split_mailbox(ctx: CliContext, text: str) -> tuple[str, str]:
    """``ACCOUNT:PATH`` -> (account, path); a bare PATH when the profile has exactly one account."""
    name, sep, path = text.partition(":")
    if sep and name and path:
        return name, path
    accounts = ctx.profile().load().accounts
    if not sep and len(accounts) == 1:
        return accounts[0].name, text
    known = ", ".join(a.name for a in accounts) or "none yet"
    raise UsageError(f"Name the mailbox as ACCOUNT:PATH, for example work:INBOX (accounts: {known}).")


def readable_folder(session: AccountSession, path: str, *, counts: bool = False) -> Folder:
    folder = session.folder(path, counts=counts).result()
    try:
        require_rights(folder.rights, "r", f"read messages in {mailbox_label(folder)}")
    except SharedClientError as exc:
        session.audit.record("mailbox.open", account=folder.account, target={"mailbox": path}, result="denied",
                             details={"rights": folder.rights, "reason": exc.user_message})  # fmt: skip
        raise
    return folder


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat() if ts is not None else None


def table(ctx: CliContext, header: Sequence[str], rows: list[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        ctx.out("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


# -- commands ----------------------------------------------------------------------------------------


def cmd_mailboxes(ctx: CliContext, args: argparse.Namespace) -> int:
    settings = ctx.profile().load()
    accounts = [settings.account(args.account)] if args.account else list(settings.accounts)
    if not accounts and not args.json:
        ctx.out("No accounts yet. Add one with: sharedclient account add NAME --email … --imap … --smtp …")
    found: list[Folder] = []
    failed = False
    for account in accounts:
        try:
            with open_session(ctx, account.name) as session:
                found += [f for f in session.folders().result() if f.selectable]
        except SharedClientError as exc:  # one unreachable account must not hide the others
            print(f"sharedclient: {account.name}: {exc.user_message}", file=ctx.stderr)
            failed = True
    records = [
        {
            "account": f.account, "section": f.section.value, "owner": f.owner, "path": f.path, "name": f.name,
            "rights": f.rights, "unread": f.unread, "total": f.total,
        }
        for f in found
    ]  # fmt: skip
    if args.json:
        ctx.out(json.dumps(records, indent=2, ensure_ascii=False))
    elif records:
        rows = [
            [r["account"], r["section"], r["owner"] or "-", r["path"], r["rights"], str(r["unread"]), str(r["total"])]
            for r in records
        ]
        table(ctx, ["ACCOUNT", "SECTION", "OWNER", "MAILBOX", "RIGHTS", "UNREAD", "TOTAL"], rows)
    return 1 if failed else 0


def cmd_sync(ctx: CliContext, args: argparse.Namespace) -> int:
    name, path = split_mailbox(ctx, args.mailbox)
    with open_session(ctx, name) as session:
        folder = readable_folder(session, path)
        session.record_opened(path)
        result = session.sync(path).result()
    if args.json:
        ctx.out(json.dumps({
            "account": name, "path": path, "fetched": result.fetched, "updated": result.updated,
            "vanished": result.vanished, "seconds": round(result.seconds, 3), "total": result.total,
            "uidvalidity_reset": result.uidvalidity_reset,
        }, indent=2, ensure_ascii=False))  # fmt: skip
        return 0
    note = " (the server renumbered the mailbox, so it was fetched afresh)" if result.uidvalidity_reset else ""
    ctx.out(
        f"Synced {mailbox_label(folder)}: {result.fetched} fetched, {result.updated} updated, "
        f"{result.vanished} vanished in {result.seconds:.2f} s; {result.total} messages{note}."
    )
    return 0


def cmd_messages(ctx: CliContext, args: argparse.Namespace) -> int:
    name, path = split_mailbox(ctx, args.mailbox)
    if args.limit < 0:
        raise UsageError("--limit must be 0 (all) or more.")
    with open_session(ctx, name) as session:
        readable_folder(session, path)
        session.record_opened(path)
        session.sync(path).result()
        mailbox_id = session.cache.mailbox(path).id
        ids = listing_ids(session.cache, mailbox_id, search=args.search)
        if args.limit:
            ids = ids[: args.limit]
        by_id = rows_by_id(session.cache, ids)
        rows = [by_id[i] for i in ids if i in by_id]
    if args.json:
        ctx.out(json.dumps([
            {
                "uid": r.uid, "date": iso(r.date), "from": format_addresses([(r.from_name, r.from_addr)]),
                "sender": r.sender or None, "to": r.to, "subject": r.subject, "flags": list(r.flags), "size": r.size,
            }
            for r in rows
        ], indent=2, ensure_ascii=False))  # fmt: skip
        return 0
    if not rows:
        ctx.out("No messages match." if args.search else "The mailbox is empty.")
        return 0
    table(ctx, ["UID", "DATE", "", "FROM", "SUBJECT"], [
        [
            str(r.uid),
            datetime.fromtimestamp(r.date).strftime("%Y-%m-%d %H:%M") if r.date is not None else "",
            _marks(r.flags),
            _clip(sender_view(format_addresses([(r.from_name, r.from_addr)]), r.sender), 40),
            _clip(r.subject, 80),
        ]
        for r in rows
    ])  # fmt: skip
    return 0


def _marks(flags: Sequence[str]) -> str:
    """N(ew, unread) F(lagged) A(nswered) D(eleted), as in mutt's index."""
    return (
        ("N" if "\\Seen" not in flags else "")
        + ("F" if "\\Flagged" in flags else "")
        + ("A" if "\\Answered" in flags else "")
        + ("D" if "\\Deleted" in flags else "")
    )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_show(ctx: CliContext, args: argparse.Namespace) -> int:
    name, path = split_mailbox(ctx, args.mailbox)
    with open_session(ctx, name) as session:
        readable_folder(session, path)
        raw = session.message_body(path, args.uid).result()
    if args.raw:
        buffer = getattr(ctx.stdout, "buffer", None)
        if buffer is not None:
            ctx.stdout.flush()
            buffer.write(raw)
            buffer.flush()
        else:  # a text-only stream (tests): the bytes as faithfully as text allows
            ctx.stdout.write(raw.decode("utf-8", "surrogateescape"))
        return 0
    msg = render_message(raw)
    h = msg.headers
    lines = [("From", msg.sender_view)] + [(k, h.get(k, "")) for k in ("To", "Cc", "Reply-To", "Date", "Subject")]
    for label, value in lines:
        if value:
            ctx.out(f"{label + ':':<9} {value}")
    for att in msg.attachments:
        ctx.out(f"{'Attached:':<9} {att.filename} ({att.content_type}, {att.size} bytes)")
    for problem in msg.problems:
        ctx.out(f"{'Note:':<9} {problem}")
    ctx.out()
    ctx.out(msg.text.rstrip("\n"))
    return 0


_MARKS = {
    "read": (["\\Seen"], True, "marked as read"),
    "unread": (["\\Seen"], False, "marked as unread"),
    "flag": (["\\Flagged"], True, "flagged"),
    "unflag": (["\\Flagged"], False, "no longer flagged"),
}


def cmd_mark(ctx: CliContext, args: argparse.Namespace) -> int:
    name, path = split_mailbox(ctx, args.mailbox)
    flags, add, done = _MARKS[args.how]
    with open_session(ctx, name) as session:
        folder = session.folder(path).result()
        session.set_flags(path, [args.uid], flags, add).result()
    ctx.out(f"Message {args.uid} in {mailbox_label(folder)} is now {done}.")
    return 0


def cmd_delete(ctx: CliContext, args: argparse.Namespace) -> int:
    name, path = split_mailbox(ctx, args.mailbox)
    with open_session(ctx, name) as session:
        outcome = session.delete(path, [args.uid]).result()
    if outcome.moved_to is not None:
        ctx.out(f"Moved message {args.uid} from {outcome.where} to {mailbox_label(outcome.moved_to)}.")
    else:
        ctx.out(f"Deleted message {args.uid} from {outcome.where} for good (it has no Trash you may move it to).")
    return 0


def cmd_move(ctx: CliContext, args: argparse.Namespace) -> int:
    name, path = split_mailbox(ctx, args.mailbox)
    with open_session(ctx, name) as session:
        source = session.folder(path).result()
        target = session.folder(args.target).result()
        (session.copy if args.copy else session.move)(path, [args.uid], args.target).result()
    verb = "Copied" if args.copy else "Moved"
    ctx.out(f"{verb} message {args.uid} from {mailbox_label(source)} to {mailbox_label(target)}.")
    return 0
