"""DLP detectors (true positives and near misses), the profile's DLP settings, and attachments."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharedclient.core.dlp import (
    CARD,
    IBAN,
    SSN,
    CustomRule,
    compile_rule,
    iban_valid,
    luhn_valid,
    scan_attachment,
    scan_parts,
    scan_text,
)
from sharedclient.core.dlp_policy import BLOCK, OFF, WARN, DlpPolicy, VolumeLimit, policy_from_json, policy_to_json
from sharedclient.core.errors import StorageError, UsageError
from sharedclient.core.settings import SETTINGS_VERSION, Settings, load_settings, save_settings


def rules(text: str, custom: tuple[CustomRule, ...] = ()) -> list[str]:
    return [f.rule for f in scan_text(text, "body", custom)]


def with_luhn(prefix: str) -> str:
    """``prefix`` plus the check digit that makes it Luhn-valid."""
    for digit in "0123456789":
        if luhn_valid(prefix + digit):
            return prefix + digit
    raise AssertionError


# -- cards -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111111",  # Visa test number
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500 0000 0000 0004",  # Mastercard
        "3400 000000 00009",  # Amex, 15 digits
        "4222222222222",  # 13 digits
        "6011 0000 0000 0004",
        "pay with 4111111111111111, thanks",
    ],
)
def test_card_numbers_are_found(text: str) -> None:
    assert rules(text) == [CARD]


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # Luhn fails
        "4111 1111 1111 111",  # 15 digits, Luhn fails
        "411111111111",  # 12 digits
        "41111111111111111111",  # 20 digits
        "4111  1111 1111 1111",  # two spaces: not one number
        "4111_1111_1111_1111",
        "0000 0000 0000 0000",  # Luhn-valid but no card
        "Order 2024-06-03, ticket 123456",
        "+49 30 1234 5678",
    ],
)
def test_card_near_misses_are_not_found(text: str) -> None:
    assert CARD not in rules(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=12, max_value=18), st.randoms(use_true_random=False), st.sampled_from(["", " ", "-"]))
def test_every_luhn_valid_number_of_13_to_19_digits_is_found(length: int, rnd, sep: str) -> None:  # type: ignore[no-untyped-def]
    number = with_luhn(str(rnd.randint(1, 9)) + "".join(str(rnd.randint(0, 9)) for _ in range(length - 1)))
    grouped = sep.join(number[i : i + 4] for i in range(0, len(number), 4))
    found = scan_text(f"card: {grouped}.", "body")
    assert [f.rule for f in found] == [CARD]
    shown = found[0].excerpt.replace(sep, "")
    assert shown == "•" * (len(number) - 4) + number[-4:]


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=13, max_value=19), st.randoms(use_true_random=False))
def test_one_changed_digit_breaks_luhn(length: int, rnd) -> None:  # type: ignore[no-untyped-def]
    number = with_luhn("4" + "".join(str(rnd.randint(0, 9)) for _ in range(length - 2)))
    position = rnd.randrange(length)
    changed = str((int(number[position]) + rnd.randint(1, 9)) % 10)
    wrong = number[:position] + changed + number[position + 1 :]
    assert CARD not in rules(wrong)


# -- SSN -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["078-05-1120", "SSN 123-45-6789.", "123 45 6789", "899-99-9999", "665-01-0001"])
def test_ssns_are_found(text: str) -> None:
    assert rules(text) == [SSN]


@pytest.mark.parametrize(
    "text",
    [
        "000-12-3456",  # area 000
        "666-12-3456",  # area 666
        "900-12-3456",  # area 900-999
        "999-12-3456",
        "123-00-4567",  # group 00
        "123-45-0000",  # serial 0000
        "123-45 6789",  # mixed separators
        "123456789",  # no separators: too many false alarms (order numbers)
        "1123-45-6789",
        "123-45-67890",
        "call 555-12-1234-5",
    ],
)
def test_ssn_near_misses_are_not_found(text: str) -> None:
    assert SSN not in rules(text)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 999), st.integers(0, 99), st.integers(0, 9999))
def test_ssn_rule_follows_the_exclusions(area: int, group: int, serial: int) -> None:
    text = f"id {area:03d}-{group:02d}-{serial:04d} end"
    valid = area not in (0, 666) and area < 900 and group != 0 and serial != 0
    assert (SSN in rules(text)) == valid


# -- IBAN ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "DE89 3704 0044 0532 0130 00",
        "DE89370400440532013000",
        "GB82 WEST 1234 5698 7654 32",
        "FR14 2004 1010 0505 0001 3M02 606",
        "NO93 8601 1117 947",  # shortest: 15
        "account: GB82WEST12345698765432, thanks",
        "DE89 3704 0044 0532 0130 00 is my account",
    ],
)
def test_ibans_are_found(text: str) -> None:
    assert rules(text) == [IBAN]


@pytest.mark.parametrize(
    "text",
    [
        "DE88 3704 0044 0532 0130 00",  # check digits wrong
        "DE89 3704 0044 0532 0130 01",  # mod-97 fails
        "DE89 3704 0044 0532 0130 0",  # one character short for DE
        "DE89 3704 0044 0532 0130 000",  # one too many
        "XX89 3704 0044 0532 0130 00",  # no such country
        "GB82-WEST-1234-5698-7654-32",  # dashes are not IBAN grouping
    ],
)
def test_iban_near_misses_are_not_found(text: str) -> None:
    assert IBAN not in rules(text)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["DE", "GB", "FR", "NL", "CH", "NO", "MT"]), st.randoms(use_true_random=False))
def test_generated_ibans_pass_and_a_changed_character_fails(country: str, rnd) -> None:  # type: ignore[no-untyped-def]
    from sharedclient.core.dlp import IBAN_LENGTHS

    bban = "".join(rnd.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(IBAN_LENGTHS[country] - 4))
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    iban = f"{country}{check:02d}{bban}"
    assert iban_valid(iban) and rules(f"IBAN {iban}.") == [IBAN]
    digits = [i for i, c in enumerate(iban) if c.isdigit() and i >= 2]
    position = rnd.choice(digits)  # mod-97 catches every single changed digit
    replacement = rnd.choice([c for c in "0123456789" if c != iban[position]])
    assert not iban_valid(iban[:position] + replacement + iban[position + 1 :])


# -- custom rules, parts, attachments --------------------------------------------------------------


def test_custom_rules_match_case_insensitively_and_bad_patterns_get_a_sentence() -> None:
    falcon = CustomRule("falcon", r"project\s+falcon", "Code name")
    found = scan_text("About PROJECT  Falcon:", "subject", (falcon,))
    assert [(f.rule, f.label, f.where, f.excerpt) for f in found] == [("falcon", "Code name", "subject", "PROJECT Falcon")]
    with pytest.raises(UsageError, match=r"“bad” has an invalid regular expression: missing \), unterminated subpattern at position 0"):
        compile_rule("bad", "(abc")
    with pytest.raises(UsageError, match="matches empty text"):
        compile_rule("empty", "x*")
    with pytest.raises(UsageError, match="built-in"):
        compile_rule("card", "x")


def test_html_body_and_text_attachments_are_scanned_binary_ones_not() -> None:
    html = "<p>Card: <b>4111 1111</b> <i>1111 1111</i></p>"
    assert [f.rule for f in scan_parts("hi", html, body_is_html=True)] == [CARD]
    inner = EmailMessage()
    inner["Subject"] = "IBAN DE89 3704 0044 0532 0130 00"
    inner.set_content("ssn 078-05-1120")
    inner.add_attachment(b"name,card\nx,5500000000000004\n", maintype="text", subtype="csv", filename="c.csv")
    attachments = [
        ("notes.txt", "text/plain", b"4111111111111111"),
        ("list.csv", "application/octet-stream", b"a;078-05-1120"),
        ("page.html", "text/html", b"<td>GB82 WEST 1234 5698 7654 32</td>"),
        ("fwd.eml", "message/rfc822", inner.as_bytes()),
        ("photo.jpg", "image/jpeg", b"4111111111111111"),
        ("x.pdf", "application/pdf", b"4111111111111111"),
    ]
    found = scan_parts("Subject 123-45-6789", "", attachments)
    assert [(f.where, f.rule) for f in found] == [
        ("subject", SSN),
        ("attachment notes.txt", CARD),
        ("attachment list.csv", SSN),
        ("attachment page.html", IBAN),
        ("attachment fwd.eml", IBAN),
        ("attachment fwd.eml", SSN),
        ("attachment fwd.eml", CARD),
    ]
    assert scan_attachment("latin.txt", "text/plain", "Nr. 4111111111111111 für Sie".encode("cp1252"))


# -- settings --------------------------------------------------------------------------------------


def test_policy_actions_per_identity_and_defaults() -> None:
    policy = policy_from_json({
        "rules": [{"name": "falcon", "pattern": "falcon"}],
        "actions": {"iban": "block"},
        "identities": {"Support@Example.test": {"card": "warn", "falcon": "off"}},
        "volume": {"messages": 5, "minutes": 10, "action": "block",
                   "identities": {"promo@example.test": {"messages": 500, "minutes": 60, "action": "warn"}}},
    })  # fmt: skip
    assert policy.action_for("card", "alice@example.test") == BLOCK
    assert policy.action_for("card", "support@example.test") == WARN
    assert policy.action_for("falcon", "SUPPORT@example.test") == OFF
    assert policy.action_for("falcon", "alice@example.test") == WARN
    assert policy.action_for("iban", "alice@example.test") == BLOCK
    assert policy.volume_for("alice@example.test") == VolumeLimit(5, 10, BLOCK)
    assert policy.volume_for("promo@example.test") == VolumeLimit(500, 60, WARN)
    assert policy_from_json(json.loads(json.dumps(policy_to_json(policy)))) == policy


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rules": [{"name": "x", "pattern": "[a-"}]}, "“x” has an invalid regular expression"),
        ({"rules": [{"name": "x", "pattern": "a"}, {"name": "x", "pattern": "b"}]}, "two DLP rules named “x”"),
        ({"actions": {"card": "maybe"}}, "must be block, warn or off, not “maybe”"),
        ({"identities": {"a@x": {"nope": "warn"}}}, "name a rule “nope” that does not exist"),
        ({"volume": {"messages": 0}}, "at least 1 message"),
        ({"rules": [{"pattern": "x"}]}, "malformed"),
    ],
)
def test_bad_dlp_settings_are_refused_with_a_sentence(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(UsageError, match=message):
        policy_from_json(data)


def test_settings_file_keeps_dlp_and_names_the_file_when_a_rule_is_bad(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    policy = DlpPolicy(rules=(CustomRule("falcon", "falcon"),), actions={"falcon": "block"})
    save_settings(path, Settings(dlp=policy))
    data = json.loads(path.read_text())
    assert data["version"] == SETTINGS_VERSION == 2 and data["dlp"]["actions"] == {"falcon": "block"}
    assert load_settings(path).dlp == policy
    data["dlp"]["rules"][0]["pattern"] = "(unclosed"
    path.write_text(json.dumps(data))
    with pytest.raises(StorageError) as info:
        load_settings(path)
    assert str(path) in info.value.user_message and "“falcon” has an invalid regular expression" in info.value.user_message
    # A version-1 file (before DLP settings existed) still loads, with the defaults.
    path.write_text(json.dumps({"version": 1, "accounts": []}))
    assert load_settings(path).dlp == DlpPolicy()
