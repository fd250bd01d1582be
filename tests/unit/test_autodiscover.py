"""Autodiscovery logic without servers: the hostile-XML parser, autoconfig parsing and SRV ordering."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from sharedclient.core.autodiscover.autoconfig import MAX_BYTES, parse_config, safe_parse
from sharedclient.core.autodiscover.srv import (
    IMAP_SERVICES,
    SUBMISSION_SERVICES,
    SrvRecord,
    endpoints_for,
    rfc2782_order,
)
from sharedclient.core.errors import NetworkError, ProtocolError
from sharedclient.core.model import Endpoint, Security

CONFIG = b"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.test">
    <domain>example.test</domain>
    <incomingServer type="pop3">
      <hostname>pop.example.test</hostname><port>995</port><socketType>SSL</socketType>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>plain.example.test</hostname><port>143</port><socketType>plain</socketType>
      <authentication>password-cleartext</authentication><username>%EMAILADDRESS%</username>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>oauth.example.test</hostname><port>993</port><socketType>SSL</socketType>
      <authentication>OAuth2</authentication><username>%EMAILADDRESS%</username>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>IMAP.Example.Test</hostname><port>993</port><socketType>SSL</socketType>
      <authentication>password-cleartext</authentication><username>%EMAILLOCALPART%</username>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.test</hostname><port>587</port><socketType>STARTTLS</socketType>
      <authentication>password-cleartext</authentication><username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>"""


def test_autoconfig_picks_first_secure_password_servers_and_fills_placeholders() -> None:
    result = parse_config(CONFIG, "alice@example.test", "https://x/mail/config-v1.1.xml")
    assert result.imap is not None and result.smtp is not None
    assert result.imap.endpoint == Endpoint("imap.example.test", 993, Security.TLS)  # not plain, not OAuth2-only
    assert result.imap.username == "alice"
    assert result.smtp.endpoint == Endpoint("smtp.example.test", 587, Security.STARTTLS)
    assert result.smtp.username == "alice@example.test"


def test_autoconfig_without_usable_server_yields_none() -> None:
    only_plain = CONFIG.replace(b"SSL", b"plain").replace(b"STARTTLS", b"plain")
    result = parse_config(only_plain, "alice@example.test")
    assert result.imap is None and result.smtp is None


@pytest.mark.parametrize(
    "document",
    [
        # billion laughs
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b"<clientConfig>&lol2;</clientConfig>",
        # external entity (would read a local file)
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><clientConfig>&xxe;</clientConfig>',
        # external DTD
        b'<?xml version="1.0"?><!DOCTYPE clientConfig SYSTEM "http://evil.test/x.dtd"><clientConfig/>',
        # parameter entities
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://evil.test/p">%p;]><clientConfig/>',
    ],
)
def test_hostile_xml_with_doctype_or_entities_is_refused(document: bytes) -> None:
    with pytest.raises(ProtocolError, match="document type or entities"):
        safe_parse(document)


def test_huge_xml_is_refused_before_parsing() -> None:
    huge = b"<clientConfig>" + b" " * MAX_BYTES + b"</clientConfig>"
    with pytest.raises(ProtocolError, match="larger than"):
        safe_parse(huge)


def test_deeply_nested_or_wide_xml_is_refused() -> None:
    deep = b"<a>" * 100 + b"</a>" * 100
    with pytest.raises(ProtocolError, match="nested too deeply"):
        safe_parse(deep)
    wide = b"<clientConfig>" + b"<x/>" * 5000 + b"</clientConfig>"
    with pytest.raises(ProtocolError, match="too many elements"):
        safe_parse(wide)


def test_broken_xml_and_wrong_root_give_readable_errors() -> None:
    with pytest.raises(ProtocolError, match="not valid XML"):
        safe_parse(b"<clientConfig><unclosed></clientConfig>")
    with pytest.raises(ProtocolError, match="no <clientConfig>"):
        parse_config(b"<html><body>Welcome</body></html>", "a@example.test")


def test_rfc2782_priority_first_then_weighted() -> None:
    records = [
        SrvRecord(20, 0, 993, "backup.example.test."),
        SrvRecord(10, 90, 993, "heavy.example.test."),
        SrvRecord(10, 10, 993, "light.example.test."),
    ]
    firsts = Counter()
    for seed in range(400):
        order = rfc2782_order(records, random.Random(seed))
        assert order[-1].target == "backup.example.test."  # higher priority value always last
        assert {r.target for r in order} == {r.target for r in records}  # nothing lost or duplicated
        firsts[order[0].target] += 1
    # weight 90 vs 10: the heavy one comes first far more often, but the light one sometimes does too
    assert firsts["heavy.example.test."] > 300
    assert firsts["light.example.test."] > 10


def test_zero_weight_records_still_appear() -> None:
    records = [SrvRecord(0, 0, 1, "a."), SrvRecord(0, 0, 2, "b.")]
    assert sorted(r.port for r in rfc2782_order(records, random.Random(1))) == [1, 2]


def test_srv_implicit_tls_before_starttls_and_dot_target_means_none() -> None:
    table = {
        "_imaps._tcp.example.test": [SrvRecord(5, 0, 993, "imap.example.test.")],
        "_imap._tcp.example.test": [SrvRecord(0, 0, 143, "imap.example.test.")],
        "_submissions._tcp.example.test": [SrvRecord(0, 0, 0, ".")],  # explicitly not offered
        "_submission._tcp.example.test": [SrvRecord(0, 1, 587, "SMTP.example.test.")],
    }
    resolve = lambda name: table.get(name, [])  # noqa: E731
    imap = endpoints_for("example.test", IMAP_SERVICES, resolve)
    assert imap == [Endpoint("imap.example.test", 993, Security.TLS), Endpoint("imap.example.test", 143, Security.STARTTLS)]
    smtp = endpoints_for("example.test", SUBMISSION_SERVICES, resolve)
    assert smtp == [Endpoint("smtp.example.test", 587, Security.STARTTLS)]


def test_srv_resolver_failure_is_reported_not_raised_by_discover() -> None:
    from sharedclient.core.autodiscover import Discoverer
    from sharedclient.core.autodiscover.guess import GuessPlan

    def failing(name: str):  # type: ignore[no-untyped-def]
        raise NetworkError(f"The DNS lookup of {name} failed (Timeout).")

    notes: list[str] = []
    discoverer = Discoverer(srv_resolver=failing, autoconfig_urls=lambda d, e: [], host_resolver=lambda h, p: [],
                            guess_plan=GuessPlan())  # fmt: skip
    result = discoverer.discover("alice@example.test", progress=notes.append)
    assert result.imap is None and result.smtp is None
    assert any("DNS lookup of _imaps._tcp.example.test failed" in n for n in result.notes)
    assert any("imap.example.test:993 (tls): imap.example.test does not exist" in n for n in result.notes)
    assert "No IMAP server was found for example.test; enter it on the next page." in result.notes
