"""identity / send / outbox / log on the command line, without servers: validation and output formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sharedclient.app import main
from sharedclient.core.profiles import ProfileStore
from sharedclient.core.store.history import JSON_KEYS, HistoryEntry, SendHistory
from sharedclient.core.store.profile_db import ProfileDb
from tests.memory_keyring import MemoryKeyring


def run(basedir: Path, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--basedir", str(basedir), *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def with_account(basedir: Path) -> None:
    code, _, err = run(basedir, "account", "add", "work", "--email", "alice@example.test", "--imap", "127.0.0.1:1",
                       "--smtp", "127.0.0.1:2", "--password-stdin", stdin="pw\n")  # fmt: skip
    assert code == 0, err


def test_identity_add_list_remove(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    with_account(tmp_path)
    sig = tmp_path / "sig.txt"
    sig.write_text("Support team\nexample.test\n", encoding="utf-8")
    code, out, err = run(tmp_path, "identity", "add", "support@example.test", "--account", "work", "--name", "Support Team",
                         "--mode", "send-as", "--alias", "help@example.test", "--reply-to", "help@example.test",
                         "--signature-file", str(sig), "--mailbox", "support@example.test", "--dsn")  # fmt: skip
    assert code == 0, err
    code, out, _ = run(tmp_path, "identity", "list", "--json")
    listed = json.loads(out)
    assert [(i["address"], i["mode"], i["status"], i["implicit"]) for i in listed] == [
        ("alice@example.test", "own", "unknown", True),
        ("support@example.test", "send-as", "unknown", False),
    ]
    support = listed[1]
    assert (support["name"], support["aliases"], support["mailbox"], support["dsn"]) == (
        "Support Team", ["help@example.test"], "support@example.test", True,
    )
    assert support["checked_at"] is None
    settings = ProfileStore(tmp_path).get("default").load()
    assert settings.identity("support@example.test").signature == "Support team\nexample.test\n"
    assert "Support Team <support@example.test>\tsend-as\tvia work\tunknown" in run(tmp_path, "identity", "list")[1]
    assert run(tmp_path, "identity", "remove", "support@example.test")[0] == 0
    assert ProfileStore(tmp_path).get("default").load().identities == ()


def test_identity_add_refuses_bad_input(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    with_account(tmp_path)
    code, _, err = run(tmp_path, "identity", "add", '"a@b"@example.test', "--account", "work")
    assert code == 1 and "is not an address SharedClient can send to" in err
    code, _, err = run(tmp_path, "identity", "add", "x@example.test", "--account", "nope")
    assert code == 1 and "no account named “nope”" in err
    code, _, err = run(tmp_path, "identity", "add", "x@example.test", "--account", "work", "--name", "Eve\nBcc: x@y.test")
    assert code == 1 and "control character or line break" in err
    code, _, err = run(tmp_path, "identity", "add", "alice@example.test", "--account", "work", "--mode", "on-behalf")
    assert code == 1 and "use --mode own" in err


def test_send_refuses_bad_input_before_storing_anything(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    with_account(tmp_path)
    code, _, err = run(tmp_path, "send", "--to", "carol@example.test", "--subject", "x", "--body", "x")
    assert code == 1 and "--from ADDRESS" in err
    code, _, err = run(tmp_path, "send", "--from", "alice@example.test", "--to", '"x@evil.test"@example.test',
                       "--subject", "x", "--body", "x")  # fmt: skip
    assert code == 1 and "not an address SharedClient can send to" in err
    code, _, err = run(tmp_path, "send", "--from", "alice@example.test", "--to", "carol@example.test",
                       "--subject", "hi\r\nBcc: evil@x.test", "--body", "x")  # fmt: skip
    assert code == 1 and "The subject contains a control character" in err
    code, _, err = run(tmp_path, "send", "--from", "alice@example.test", "--to", "c@example.test", "--subject", "x",
                       "--attach", str(tmp_path / "missing.pdf"))  # fmt: skip
    assert code == 1 and "cannot be read" in err
    assert run(tmp_path, "outbox", "--json")[1].strip() == "[]"
    assert run(tmp_path, "outbox")[1] == "The outbox is empty.\n"


def test_unreachable_server_queues_with_exit_75(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    with_account(tmp_path)  # SMTP 127.0.0.1:2: nothing listens there
    code, _, err = run(tmp_path, "send", "--from", "alice@example.test", "--to", "carol@example.test",
                       "--subject", "later", "--body", "x")  # fmt: skip
    assert code == 75 and "queued, retrying" in err
    item, = json.loads(run(tmp_path, "outbox", "--json")[1])
    assert set(item) >= {"id", "status", "identity", "subject", "attempts", "last_error"}
    assert (item["status"], item["identity"], item["attempts"]) == ("queued", "alice@example.test", 1)
    assert run(tmp_path, "outbox", "delete", "1")[0] == 0
    assert run(tmp_path, "outbox", "retry", "1")[2].startswith("sharedclient: There is no message 1 in the outbox")


def test_log_formats_and_filters(tmp_path: Path) -> None:
    profile = ProfileStore(tmp_path).get("default")
    with ProfileDb.for_data_dir(profile.data_dir) as db:
        SendHistory(db).record_many(
            HistoryEntry(0, 1_717_400_000.0 + n * 86400, "default", "work", ident, mode, "alice@example.test", ident,
                         f"X <{ident}>", "", ("carol@example.test",), f"Subject {n}", f"<{n}@x.test>", 10, "250 ok",
                         "sent", "Sent", None)
            for n, (ident, mode) in enumerate([("support@example.test", "send-as"), ("alice@example.test", "own")])
        )  # fmt: skip
    code, out, _ = run(tmp_path, "log", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["subject"] for r in rows] == ["Subject 1", "Subject 0"] and tuple(rows[0]) == JSON_KEYS
    assert [r["subject"] for r in json.loads(run(tmp_path, "log", "--json", "--identity", "support@example.test")[1])] == ["Subject 0"]
    assert [r["subject"] for r in json.loads(run(tmp_path, "log", "--json", "--since", "2024-06-04")[1])] == ["Subject 1"]
    table = list(csv.reader(io.StringIO(run(tmp_path, "log", "--csv", "--search", "subject")[1])))
    assert table[0] == list(JSON_KEYS) and len(table) == 3
    assert "“Subject 1”" in run(tmp_path, "log")[1]
    assert run(tmp_path, "log", "--since", "soon")[0] == 1
