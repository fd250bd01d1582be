"""``sharedclient account add|list|remove|test``."""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path

from sharedclient.cli.audit_cmds import audit_recorder
from sharedclient.cli.context import CliContext
from sharedclient.core.diagnose import ServiceReport, check_account
from sharedclient.core.errors import NotFoundError, UsageError
from sharedclient.core.model import Account, Endpoint, Security, parse_host_port, validate_address
from sharedclient.core.profiles import validate_profile_name
from sharedclient.core.settings import settings_to_json
from sharedclient.core.tls import client_context, is_loopback


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("account", help="add, list, remove or test mail accounts")
    asub = p.add_subparsers(dest="account_cmd", required=True, metavar="ACTION")

    add = asub.add_parser("add", help="add an IMAP/SMTP account (the password goes to the keyring)")
    add.add_argument("name", help="a short name for the account, e.g. work")
    add.add_argument("--email", required=True, help="the account's own address")
    add.add_argument("--imap", required=True, metavar="HOST:PORT")
    add.add_argument("--smtp", required=True, metavar="HOST:PORT")
    add.add_argument("--imap-security", choices=[s.value for s in Security], default=Security.TLS.value)
    add.add_argument("--smtp-security", choices=[s.value for s in Security], default=Security.TLS.value)
    add.add_argument("--allow-plaintext-loopback", action="store_true",
                     help="permit --imap/--smtp-security plain, for a server on this computer only (a local bridge)")
    add.add_argument("--username", help="login name (default: the address)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.add_argument("--ca-file", metavar="PEM", help="also trust this CA certificate (private CA)")
    add.add_argument("--shared", action="store_true", help="this login is a shared mailbox of its own")
    add.set_defaults(func=cmd_add)

    lst = asub.add_parser("list", help="list accounts")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)

    rm = asub.add_parser("remove", help="remove an account and its stored password")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_remove)

    test = asub.add_parser("test", help="connect, log in to IMAP and SMTP, and report")
    test.add_argument("name")
    test.set_defaults(func=cmd_test)


def _read_password(ctx: CliContext, from_stdin: bool) -> str:
    if from_stdin:
        password = ctx.stdin.readline().rstrip("\r\n")
    elif ctx.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        raise UsageError("No password given: pass --password-stdin and write the password to standard input.")
    if not password:
        raise UsageError("The password is empty.")
    return password


def account_from_args(args: argparse.Namespace) -> Account:
    validate_profile_name(args.name)  # same rules: it names keyring entries and files
    email = validate_address(args.email)
    imap_host, imap_port = parse_host_port(args.imap, "IMAP server")
    smtp_host, smtp_port = parse_host_port(args.smtp, "SMTP server")
    for what, host, security in (("IMAP", imap_host, args.imap_security), ("SMTP", smtp_host, args.smtp_security)):
        if security == Security.PLAIN.value:
            if not getattr(args, "allow_plaintext_loopback", False):
                raise UsageError(
                    f"“plain” sends the {what} password unencrypted. SharedClient allows that only for a server on "
                    "this computer, and only when you also pass --allow-plaintext-loopback."
                )
            if not is_loopback(host):
                raise UsageError(
                    f"The {what} server {host} is not on this computer: unencrypted connections are allowed only "
                    "to 127.0.0.1, ::1 or localhost. Use tls or starttls."
                )
    ca_file = None
    if args.ca_file:
        ca_path = Path(args.ca_file).expanduser().resolve()
        if not ca_path.is_file():
            raise UsageError(f"The CA file {args.ca_file} does not exist.")
        client_context(str(ca_path))  # raises a readable TlsError if it is not a usable PEM
        ca_file = str(ca_path)
    return Account(
        name=args.name,
        email=email,
        imap=Endpoint(imap_host, imap_port, Security(args.imap_security)),
        smtp=Endpoint(smtp_host, smtp_port, Security(args.smtp_security)),
        username=args.username or email,
        ca_file=ca_file,
        kind="shared" if args.shared else "personal",
    )


def cmd_add(ctx: CliContext, args: argparse.Namespace) -> int:
    account = account_from_args(args)
    profile = ctx.profile()
    with profile.lock(), audit_recorder(ctx) as audit:
        settings = profile.load().with_account(account)  # refuses duplicates before anything is stored
        creds = ctx.credentials()  # refuses insecure keyrings before asking for the password
        password = _read_password(ctx, args.password_stdin)
        creds.set(account.name, "imap", password)
        creds.set(account.name, "smtp", password)
        try:
            profile.save(settings)
        except Exception:
            creds.delete(account.name)
            raise
        audit.record("account.add", account=account.name, details={"email": account.email, "username": account.username,
                     "imap": str(account.imap), "smtp": str(account.smtp), "kind": account.kind})  # fmt: skip
    ctx.out(f"Added account “{account.name}” ({account.email}) to profile “{profile.name}”.")
    return 0


def cmd_list(ctx: CliContext, args: argparse.Namespace) -> int:
    settings = ctx.profile().load()
    if args.json:
        ctx.out(json.dumps(settings_to_json(settings)["accounts"], indent=2, ensure_ascii=False))
        return 0
    if not settings.accounts:
        ctx.out("No accounts yet. Add one with: sharedclient account add NAME --email … --imap … --smtp …")
    for acct in settings.accounts:
        ctx.out(
            f"{acct.name}\t{acct.email}\tIMAP {acct.imap} ({acct.imap.security.value})\t"
            f"SMTP {acct.smtp} ({acct.smtp.security.value})\t{acct.kind}"
        )
    return 0


def cmd_remove(ctx: CliContext, args: argparse.Namespace) -> int:
    profile = ctx.profile()
    with profile.lock(), audit_recorder(ctx) as audit:
        profile.save(profile.load().without_account(args.name))
        audit.record("account.remove", account=args.name)
    ctx.forget_passwords(profile.name, [args.name])
    ctx.out(f"Removed account “{args.name}”.")
    return 0


def _print_service(ctx: CliContext, report: ServiceReport) -> None:
    if report.ok:
        ctx.out(f"{report.service} {report.where} ({report.security}): OK, {report.tls_version}, logged in")
        ctx.out(f"  capabilities: {' '.join(report.capabilities)}")
    else:
        ctx.out(f"{report.service} {report.where} ({report.security}): FAILED")


def cmd_test(ctx: CliContext, args: argparse.Namespace) -> int:
    account = ctx.profile().load().account(args.name)
    creds = ctx.credentials()
    imap_pw, smtp_pw = creds.get(account.name, "imap"), creds.get(account.name, "smtp")
    if imap_pw is None or smtp_pw is None:
        raise NotFoundError(
            f"No password is stored for account “{account.name}”; remove it and add it again with --password-stdin."
        )
    report = check_account(account, imap_pw, smtp_pw)
    _print_service(ctx, report.imap)
    _print_service(ctx, report.smtp)
    if report.ok:
        ctx.out(report.verdict)
        return 0
    print(report.verdict, file=ctx.stderr)
    return 1
