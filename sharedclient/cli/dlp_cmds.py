"""``sharedclient dlp``: show and change the data-loss rules and volume limits, and try them on a text.

The rules live in the profile's settings (``dlp``, see ``core.dlp_policy``); every change is validated
(a bad regular expression gets a sentence) and written to the audit trail as ``dlp.settings``.
``dlp scan`` runs the same check as ``send`` without sending anything: exit 0 clean, 77 when the
message would be stopped (the ``send`` exit code), so rules can be tried before they are relied on.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from sharedclient.cli.audit_cmds import audit_recorder
from sharedclient.cli.context import CliContext
from sharedclient.cli.send_cmds import EX_DLP
from sharedclient.core.dlp import BUILTIN_LABELS, CustomRule
from sharedclient.core.dlp_policy import ACTIONS, DlpPolicy, VolumeLimit, policy_to_json
from sharedclient.core.errors import NotFoundError, UsageError
from sharedclient.core.identities import find_identity
from sharedclient.core.mime.compose import AttachmentFile, OutgoingMessage
from sharedclient.core.send_guard import SendGuard
from sharedclient.core.store.profile_db import ProfileDb


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("dlp", help="data-loss rules and sending-volume limits: show, change, try")
    p.set_defaults(func=cmd_show)
    dsub = p.add_subparsers(dest="dlp_cmd", metavar="ACTION")
    add = dsub.add_parser("add-rule", help="add a custom rule (a regular expression)")
    add.add_argument("name")
    add.add_argument("pattern", help="Python regular expression, e.g. 'project\\s+falcon'")
    add.add_argument("--label", default="", help="what the person sees (default: the name)")
    add.add_argument("--case-sensitive", action="store_true")
    add.add_argument("--action", choices=ACTIONS, help="default action for every identity (default warn)")
    add.set_defaults(func=cmd_add_rule)
    remove = dsub.add_parser("remove-rule", help="remove a custom rule (and its actions)")
    remove.add_argument("name")
    remove.set_defaults(func=cmd_remove_rule)
    action = dsub.add_parser("action", help="set what a rule does: block, warn (needs a justification) or off")
    action.add_argument("rule", help=f"{', '.join(BUILTIN_LABELS)} or a custom rule's name")
    action.add_argument("action", choices=ACTIONS)
    action.add_argument("--identity", metavar="ADDRESS", help="only for this identity (default: every identity)")
    action.set_defaults(func=cmd_action)
    volume = dsub.add_parser("volume", help="more than N messages in M minutes from one identity warns or blocks")
    volume.add_argument("--messages", type=int, required=True, metavar="N")
    volume.add_argument("--minutes", type=int, required=True, metavar="M")
    volume.add_argument("--action", choices=ACTIONS, default="warn")
    volume.add_argument("--identity", metavar="ADDRESS", help="only for this identity")
    volume.set_defaults(func=cmd_volume)
    scan = dsub.add_parser("scan", help="check a text (and files) like send would, without sending")
    scan.add_argument("--from", dest="from_", metavar="ADDRESS", required=True, help="identity whose actions apply")
    scan.add_argument("--subject", default="")
    scan.add_argument("--body", default="")
    scan.add_argument("--body-file", metavar="FILE")
    scan.add_argument("--attach", action="append", default=[], metavar="FILE")
    scan.set_defaults(func=cmd_scan)


def _change(ctx: CliContext, what: str, change) -> None:  # type: ignore[no-untyped-def]
    """Load, change the policy, validate, save, audit."""
    profile = ctx.profile()
    with profile.lock(), audit_recorder(ctx) as audit:
        settings = profile.load()
        policy = change(settings.dlp).validate()
        profile.save(replace(settings, dlp=policy))
        audit.record("dlp.settings", details={"change": what, "dlp": policy_to_json(policy)})
    ctx.out(what[0].upper() + what[1:] + ".")


def cmd_show(ctx: CliContext, args: argparse.Namespace) -> int:
    policy = ctx.profile().load().dlp
    for name in policy.rule_names():
        custom = next((r for r in policy.rules if r.name == name), None)
        label = BUILTIN_LABELS.get(name) or (custom.label if custom and custom.label else name)
        pattern = f"  /{custom.pattern}/{'' if custom.ignore_case else ' (case-sensitive)'}" if custom else ""
        ctx.out(f"{name}\t{label}\t{policy.action_for(name, '')}{pattern}")
    for address, table in sorted(policy.identities.items()):
        for rule, action in sorted(table.items()):
            ctx.out(f"  {address}: {rule} {action}")
    v = policy.volume
    ctx.out(f"volume\tmore than {v.messages} messages in {v.minutes} minutes per identity\t{v.action}")
    for address, limit in sorted(policy.volume_identities.items()):
        ctx.out(f"  {address}: more than {limit.messages} in {limit.minutes} minutes {limit.action}")
    return 0


def cmd_add_rule(ctx: CliContext, args: argparse.Namespace) -> int:
    def change(p: DlpPolicy) -> DlpPolicy:
        rule = CustomRule(args.name, args.pattern, args.label, not args.case_sensitive)
        actions = {**p.actions, args.name: args.action} if args.action else p.actions
        return replace(p, rules=(*p.rules, rule), actions=actions)

    _change(ctx, f"added the rule “{args.name}”", change)
    return 0


def cmd_remove_rule(ctx: CliContext, args: argparse.Namespace) -> int:
    def change(p: DlpPolicy) -> DlpPolicy:
        if not any(r.name == args.name for r in p.rules):
            raise NotFoundError(f"There is no custom DLP rule “{args.name}” (built-in rules can be set to off).")
        return replace(
            p, rules=tuple(r for r in p.rules if r.name != args.name),
            actions={k: v for k, v in p.actions.items() if k != args.name},
            identities={a: {k: v for k, v in t.items() if k != args.name} for a, t in p.identities.items()},
        )  # fmt: skip

    _change(ctx, f"removed the rule “{args.name}”", change)
    return 0


def cmd_action(ctx: CliContext, args: argparse.Namespace) -> int:
    def change(p: DlpPolicy) -> DlpPolicy:
        if args.identity is None:
            return replace(p, actions={**p.actions, args.rule: args.action})
        address = args.identity.lower()
        return replace(p, identities={**p.identities, address: {**p.identities.get(address, {}), args.rule: args.action}})

    who = f" for {args.identity}" if args.identity else ""
    _change(ctx, f"the rule “{args.rule}” now does {args.action}{who}", change)
    return 0


def cmd_volume(ctx: CliContext, args: argparse.Namespace) -> int:
    limit = VolumeLimit(args.messages, args.minutes, args.action)

    def change(p: DlpPolicy) -> DlpPolicy:
        if args.identity is None:
            return replace(p, volume=limit)
        return replace(p, volume_identities={**p.volume_identities, args.identity.lower(): limit})

    who = f" for {args.identity}" if args.identity else " per identity"
    _change(ctx, f"more than {limit.messages} messages in {limit.minutes} minutes{who} now does {limit.action}", change)
    return 0


def cmd_scan(ctx: CliContext, args: argparse.Namespace) -> int:
    profile = ctx.profile()
    settings = profile.load()
    body = args.body
    if args.body_file:
        try:
            body = Path(args.body_file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"The body file {args.body_file} cannot be read ({exc}).") from exc
    message = OutgoingMessage(
        identity=find_identity(settings, args.from_), subject=args.subject, body=body,
        attachments=tuple(AttachmentFile.from_path(p) for p in args.attach),
    )  # fmt: skip
    with ProfileDb.for_data_dir(profile.data_dir) as db:
        report = SendGuard(lambda: settings, db).check(message)
    if report.clean:
        ctx.out(f"Nothing found: this could be sent from {message.identity.address}.")
        return 0
    for item in report.items:
        ctx.out(f"{item.action}\t{item.rule}\t{item.where}\t{item.excerpt}")
    return EX_DLP if report.items else 0
