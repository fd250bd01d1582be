"""``sharedclient acl show|grant|revoke|review``: who may use a mailbox (IMAP ACL, RFC 4314).

A mailbox is named ``ACCOUNT:PATH`` (``work:shared/support@example.com/INBOX``), as for the read
commands, whose session helpers these commands share. Changes need the ``a`` (administer) right on the
mailbox; every change, and every refused attempt, is written to the profile's audit trail.
"""

from __future__ import annotations

import argparse
import json

from sharedclient.cli.audit_cmds import open_audit
from sharedclient.cli.context import CliContext
from sharedclient.cli.read_cmds import open_session, split_mailbox
from sharedclient.core.errors import NotFoundError, PermissionDenied, SharedClientError
from sharedclient.core.imap.acl import (
    ADMIN,
    PRESETS,
    AccessReview,
    AclChange,
    access_review,
    change_access,
    get_acl,
    not_admin_message,
    review_csv,
    review_to_json,
)
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.discovery import mailbox_label
from sharedclient.core.imap.rights import describe_rights, my_rights


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("acl", help="show or change who may use a mailbox (needs the administer right)")
    asub = p.add_subparsers(dest="acl_cmd", required=True, metavar="ACTION")

    show = asub.add_parser("show", help="who may use a mailbox, with their rights")
    show.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH, e.g. work:shared/support@example.com/INBOX")
    show.add_argument("--json", action="store_true", help="a JSON list of {identifier, rights}")
    show.set_defaults(func=cmd_show)

    grant = asub.add_parser("grant", help="give someone rights on a mailbox, or change their rights")
    grant.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH")
    grant.add_argument("identifier", metavar="IDENTIFIER", help="who: a login such as carol@example.com")
    grant.add_argument(
        "rights", metavar="RIGHTS",
        help=f"letters (lrs), +LETTERS / -LETTERS to add or take away, or a preset: {', '.join(PRESETS)}",
    )  # fmt: skip
    grant.add_argument("--recursive", action="store_true", help="also every folder below the mailbox")
    grant.set_defaults(func=cmd_grant)

    revoke = asub.add_parser("revoke", help="take someone's access to a mailbox away")
    revoke.add_argument("mailbox", metavar="MAILBOX", help="ACCOUNT:PATH")
    revoke.add_argument("identifier", metavar="IDENTIFIER")
    revoke.add_argument("--recursive", action="store_true", help="also every folder below the mailbox")
    revoke.set_defaults(func=cmd_revoke)

    review = asub.add_parser("review", help="every mailbox you administer: who holds which rights; risks flagged")
    fmt = review.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    review.add_argument("--account", metavar="NAME", help="only this account")
    review.set_defaults(func=cmd_review)


def _rights_text(rights: str) -> str:
    return f"{rights} ({describe_rights(rights, limits=False)})" if rights else "no access"


def cmd_show(ctx: CliContext, args: argparse.Namespace) -> int:
    name, path = split_mailbox(ctx, args.mailbox)
    with open_session(ctx, name) as session:
        label = mailbox_label(session.folder(path).result())

        def job(conn: ImapConnection) -> list[tuple[str, str, str]]:
            mine = my_rights(conn.client, path)
            if ADMIN not in mine:
                raise PermissionDenied(not_admin_message(label, mine, doing="see who may use"))
            return [(e.identifier, e.rights, e.words) for e in get_acl(conn.client, path)]

        entries = session.worker.submit(job).result()
    if args.json:
        ctx.out(json.dumps([{"identifier": i, "rights": r} for i, r, _w in entries], indent=2, ensure_ascii=False))
        return 0
    if not entries:
        ctx.out(f"Nobody besides the owner has rights on {label}.")
    width = max((len(i) for i, _r, _w in entries), default=0)
    for identifier, rights, words in entries:
        ctx.out(f"{identifier:<{width}}  {rights:<11}  {words}")
    return 0


def _change(ctx: CliContext, args: argparse.Namespace, rights_text: str | None) -> int:
    name, path = split_mailbox(ctx, args.mailbox)
    with open_audit(ctx) as audit, open_session(ctx, name) as session:
        label = mailbox_label(session.folder(path).result())
        changes: list[AclChange] = session.worker.submit(
            lambda conn: change_access(
                conn.client, session.account, path, args.identifier, None if rights_text is None else rights_text,
                recursive=args.recursive, audit=audit, label=label, rights_text=rights_text,
            )
        ).result()  # fmt: skip
    failed = 0
    for change in changes:
        if not change.ok:
            failed += 1
            print(f"sharedclient: {change.path}: {change.error}", file=ctx.stderr)
        elif change.before == change.after:
            ctx.out(f"{change.path}: {change.identifier} unchanged, {_rights_text(change.after)}.")
        else:
            ctx.out(
                f"{change.path}: {change.identifier} now {_rights_text(change.after)}; "
                f"before: {_rights_text(change.before)}."
            )
    return 1 if failed else 0


def cmd_grant(ctx: CliContext, args: argparse.Namespace) -> int:
    return _change(ctx, args, args.rights)


def cmd_revoke(ctx: CliContext, args: argparse.Namespace) -> int:
    return _change(ctx, args, None)


def cmd_review(ctx: CliContext, args: argparse.Namespace) -> int:
    settings = ctx.profile().load()
    accounts = [settings.account(args.account)] if args.account else list(settings.accounts)
    if not accounts:
        raise NotFoundError("There are no accounts in this profile yet.")
    reviews: list[AccessReview] = []
    for account in accounts:
        try:
            with open_session(ctx, account.name) as session:
                reviews.append(
                    session.worker.submit(lambda conn, a=account: access_review(conn.client, a)).result()
                )
        except SharedClientError as exc:
            if args.account or len(accounts) == 1:
                raise
            print(f"sharedclient: account “{account.name}”: {exc.user_message}", file=ctx.stderr)
    rows = [row for review in reviews for row in review.rows]
    for review in reviews:
        for problem in review.problems:
            print(f"sharedclient: account “{review.account}”: {problem}", file=ctx.stderr)
    if args.json:
        ctx.out(json.dumps(review_to_json(rows), indent=2, ensure_ascii=False))
    elif args.csv:
        ctx.stdout.write(review_csv(rows))
    else:
        mailboxes = sum(len(r.mailboxes) for r in reviews)
        risky = sum(1 for r in rows if r.risky)
        ctx.out(f"{mailboxes} mailboxes you administer, {len(rows)} entries, {risky} to look at.")
        for row in rows:
            mark = "!" if row.risky else " "
            ctx.out(f"{mark} {row.account}:{row.mailbox}\t{row.identifier}\t{row.rights}\t{row.words}")
            if row.risky:
                ctx.out(f"    {row.risk}")
    return 0
