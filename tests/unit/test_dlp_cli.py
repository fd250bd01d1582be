"""``sharedclient dlp``: rules and limits changed from the command line, validated and audited; ``dlp scan``."""

from __future__ import annotations

import json
from pathlib import Path

from sharedclient.cli.send_cmds import EX_DLP
from tests.memory_keyring import MemoryKeyring
from tests.unit.test_send_cli import run, with_account


def test_rules_actions_and_volume_are_changed_validated_and_audited(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "dlp")
    assert code == 0 and out.splitlines()[0] == "card\tPayment card number\tblock"
    assert run(tmp_path, "dlp", "add-rule", "falcon", r"project\s+falcon", "--label", "Code name")[0] == 0
    code, _, err = run(tmp_path, "dlp", "add-rule", "bad", "(x")
    assert code == 1 and err == (
        "sharedclient: The DLP rule “bad” has an invalid regular expression: missing ), unterminated subpattern "
        "at position 0.\n"
    )
    code, _, err = run(tmp_path, "dlp", "add-rule", "falcon", "y")
    assert code == 1 and "two DLP rules named “falcon”" in err
    assert run(tmp_path, "dlp", "action", "card", "warn", "--identity", "Support@Example.test")[0] == 0
    assert run(tmp_path, "dlp", "action", "nope", "block")[0] == 1
    assert run(tmp_path, "dlp", "volume", "--messages", "20", "--minutes", "5", "--action", "block")[0] == 0
    assert run(tmp_path, "dlp", "volume", "--messages", "0", "--minutes", "5")[0] == 1
    out = run(tmp_path, "dlp")[1]
    assert "falcon\tCode name\twarn  /project\\s+falcon/" in out and "  support@example.test: card warn" in out
    assert "more than 20 messages in 5 minutes per identity\tblock" in out
    entries = json.loads(run(tmp_path, "audit", "--json", "--action", "dlp.settings")[1])
    assert [e["details"]["change"] for e in entries] == [
        "added the rule “falcon”", "the rule “card” now does warn for Support@Example.test",
        "more than 20 messages in 5 minutes per identity now does block",
    ]
    assert entries[-1]["details"]["dlp"]["volume"]["messages"] == 20
    assert run(tmp_path, "dlp", "remove-rule", "falcon")[0] == 0
    code, _, err = run(tmp_path, "dlp", "remove-rule", "falcon")
    assert code == 1 and "no custom DLP rule “falcon”" in err


def test_scan_checks_like_send_without_sending(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    with_account(tmp_path)
    assert run(tmp_path, "identity", "add", "support@example.test", "--account", "work", "--mode", "send-as")[0] == 0
    code, out, _ = run(tmp_path, "dlp", "scan", "--from", "support@example.test", "--subject", "hello", "--body", "hi")
    assert (code, out) == (0, "Nothing found: this could be sent from support@example.test.\n")
    attachment = tmp_path / "list.csv"
    attachment.write_text("name;ssn\nx;078-05-1120\n")
    code, out, _ = run(tmp_path, "dlp", "scan", "--from", "support@example.test", "--body", "IBAN GB82WEST12345698765432",
                       "--attach", str(attachment))  # fmt: skip
    assert code == EX_DLP
    assert out.splitlines() == ["warn\tiban\tbody\tGB82 •••• 5432", "block\tssn\tattachment list.csv\t•••-••-1120"]
