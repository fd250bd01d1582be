"""``sharedclient templates list|add`` and ``sharedclient notes [add]``: the team desk from a terminal.

MAILBOX is ``ACCOUNT:PATH`` as for the read commands; any folder of the owner names its mailbox
(``work:shared/support@example.com/INBOX`` → support@'s Templates and Notes; ``work:INBOX`` → your own).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sharedclient.cli.context import CliContext
from sharedclient.cli.read_cmds import iso, open_session, readable_folder, split_mailbox, table
from sharedclient.core.errors import UsageError
from sharedclient.core.identities import own_identity
from sharedclient.core.mime.compose import AttachmentFile
from sharedclient.core.teamdesk.notes import conversation_of
from sharedclient.core.teamdesk.service import TeamDesk, author_address
from sharedclient.core.teamdesk.templates import TemplateList

MAX_BODY_BYTES = 1_000_000


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("templates", help="shared canned responses kept in a mailbox's Templates folder")
    tsub = p.add_subparsers(dest="templates_command", metavar="ACTION", required=True)
    q = tsub.add_parser("list", help="list the templates of a mailbox")
    q.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH of any folder of the mailbox")
    q.add_argument("--search", metavar="TEXT", default="", help="only templates whose name or text contain TEXT")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_templates_list)
    q = tsub.add_parser("add", help="add a template (creates the Templates folder when you may)")
    q.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH of any folder of the mailbox")
    q.add_argument("--name", required=True, help="the template's name (stored as its subject)")
    q.add_argument("--body-file", required=True, metavar="F", help="UTF-8 text file with the template's text")
    q.add_argument("--attach", action="append", default=[], metavar="F", help="a file to attach (repeatable)")
    q.set_defaults(func=cmd_templates_add)

    p = sub.add_parser(
        "notes",
        help="internal notes on a conversation: 'notes MAILBOX UID' lists, 'notes add MAILBOX UID --text T' adds",
        usage="sharedclient notes MAILBOX UID [--json]\n       sharedclient notes add MAILBOX UID --text TEXT",
    )
    p.add_argument("words", nargs="+", metavar="ARG", help="MAILBOX UID, or add MAILBOX UID")
    p.add_argument("--text", help="the note's text (with 'add')")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_notes)


def _lists_json(lists: list[TemplateList], query: str) -> list[dict[str, object]]:
    return [
        {
            "uid": t.uid, "name": t.name, "mailbox": t.folder, "where": t.where, "author": t.author,
            "date": iso(t.date.timestamp()) if t.date else None, "body": t.body, "attachments": list(t.attachments),
        }
        for found in lists for t in found.templates if t.matches(query)
    ]  # fmt: skip


def cmd_templates_list(ctx: CliContext, args: argparse.Namespace) -> int:
    name, path = split_mailbox(ctx, args.mailbox)
    with open_session(ctx, name) as session:
        readable_folder(session, path)
        (result,) = TeamDesk(session).templates([path]).result()
    if isinstance(result, Exception):
        raise result
    records = _lists_json([result], args.search)
    if args.json:
        ctx.out(json.dumps(records, indent=2, ensure_ascii=False))
        return 0
    if result.desk.folder is None:
        ctx.out(f"There are no templates in {result.desk.owner} yet.")
    elif not records:
        ctx.out("No template matches." if args.search else f"There are no templates in {result.desk.owner} yet.")
    else:
        rows = [[str(r["uid"]), str(r["name"]), str(r["author"]), _first_line(str(r["body"]))] for r in records]
        table(ctx, ["UID", "NAME", "AUTHOR", "TEXT"], rows)
    if result.desk.reason:
        ctx.out(f"(You can use these but not add any: {result.desk.reason})")
    return 0


def _first_line(text: str, width: int = 60) -> str:
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def _read_text(path: str, what: str) -> str:
    file = Path(path).expanduser()
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"The {what} {file} cannot be read ({exc.strerror or exc}).") from exc
    if len(data) > MAX_BODY_BYTES:
        raise UsageError(f"The {what} {file} is larger than {MAX_BODY_BYTES // 1000} kB.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"The {what} {file} is not UTF-8 text.") from None


def cmd_templates_add(ctx: CliContext, args: argparse.Namespace) -> int:
    account_name, path = split_mailbox(ctx, args.mailbox)
    body = _read_text(args.body_file, "body file")
    attachments = tuple(AttachmentFile.from_path(p) for p in args.attach)
    me = own_identity(ctx.profile().load(), account_name)
    with open_session(ctx, account_name) as session:
        readable_folder(session, path)
        template, where = TeamDesk(session).add_template(
            path, args.name, body, author_address(me.name, me.address), attachments
        ).result()
    ctx.out(f"Added the template “{template.name}” to {where}.")
    return 0


def cmd_notes(ctx: CliContext, args: argparse.Namespace) -> int:
    words = list(args.words)
    adding = words[0] == "add"
    if adding:
        words = words[1:]
    if len(words) != 2 or not words[1].isdigit():
        raise UsageError("Use: notes MAILBOX UID [--json], or notes add MAILBOX UID --text TEXT.")
    if adding and not (args.text or "").strip():
        raise UsageError("Give the note's text with --text.")
    if not adding and args.text is not None:
        raise UsageError("--text is for adding a note: notes add MAILBOX UID --text TEXT.")
    account_name, path = split_mailbox(ctx, words[0])
    uid = int(words[1])
    with open_session(ctx, account_name) as session:
        readable_folder(session, path)
        about = conversation_of(session.message_body(path, uid).result())
        desk = TeamDesk(session)
        if adding:
            me = own_identity(ctx.profile().load(), account_name)
            desk.add_note(path, about, args.text, author_address(me.name, me.address)).result()
            ctx.out(f"Added a note to the conversation “{about.subject}” (it is never sent to anyone).")
            return 0
        found = desk.notes(path, about).result()
    if args.json:
        ctx.out(json.dumps([
            {"uid": n.uid, "author": n.author, "date": iso(n.date.timestamp()) if n.date else None, "text": n.text,
             "message_id": n.message_id, "about": n.about}
            for n in found.notes
        ], indent=2, ensure_ascii=False))  # fmt: skip
        return 0
    if not found.notes:
        ctx.out(f"No notes on this conversation in {found.desk.owner}.")
    for note in found.notes:
        when = note.date.astimezone().strftime("%Y-%m-%d %H:%M") if note.date else ""
        ctx.out(f"— {note.author}, {when}")
        ctx.out("  " + note.text.replace("\n", "\n  "))
    if found.desk.folder is not None and not found.desk.readable:
        ctx.out(f"(You may not read the notes in {found.desk.owner}.)")
    if found.desk.reason:
        ctx.out(f"(You can read these but not add any: {found.desk.reason})")
    return 0
