"""Discovery against the real Dovecot/Postfix: autoconfig over loopback HTTPS, SRV through an injected
resolver, and host guesses that are offered only after a verified TLS handshake. Never real DNS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sharedclient.core.autodiscover import Discoverer
from sharedclient.core.autodiscover.guess import GuessPlan
from sharedclient.core.autodiscover.srv import SrvRecord
from sharedclient.core.diagnose import check_account
from sharedclient.core.model import Account, Endpoint, Security
from tests.servers.mail_site import MailSite, autoconfig_xml, mail_site  # noqa: F401 - fixture

if TYPE_CHECKING:
    from tests.conftest import MailServers

EMAIL = "alice@example.test"
NO_DNS = lambda name: []  # noqa: E731 - an SRV resolver that knows no records
NO_HOSTS = lambda host, port: []  # noqa: E731 - a host resolver that knows no names


def test_autoconfig_over_https_finds_the_real_servers(mail_servers: MailServers, mail_site: MailSite) -> None:
    mail_site.documents["/autoconfig/mail/config-v1.1.xml"] = autoconfig_xml(
        ("127.0.0.1", mail_servers.dovecot.imap_tls_port, "SSL"), ("127.0.0.1", mail_servers.postfix.submission_port, "STARTTLS")
    )
    urls = lambda domain, email: [  # noqa: E731 - the first place has nothing (404), the second has the file
        mail_site.url(f"/{domain}/missing/config-v1.1.xml"),
        mail_site.url(f"/autoconfig/mail/config-v1.1.xml?emailaddress={email}"),
    ]
    discoverer = Discoverer(srv_resolver=NO_DNS, autoconfig_urls=urls, host_resolver=NO_HOSTS, ca_file=str(mail_site.bundle))
    progress: list[str] = []
    found = discoverer.discover(EMAIL, progress=progress.append)
    assert found.complete
    assert found.imap.endpoint == Endpoint("127.0.0.1", mail_servers.dovecot.imap_tls_port, Security.TLS)
    assert found.smtp.endpoint == Endpoint("127.0.0.1", mail_servers.postfix.submission_port, Security.STARTTLS)
    assert found.imap.username == EMAIL and "autoconfig file https://localhost" in found.imap.source
    assert mail_site.requests == ["/example.test/missing/config-v1.1.xml", "/autoconfig/mail/config-v1.1.xml?emailaddress=alice@example.test"]
    assert any("No configuration at" in p for p in progress)
    account = Account("alice", EMAIL, found.imap.endpoint, found.smtp.endpoint, EMAIL, ca_file=found.ca_file)
    assert check_account(account, "alice-secret-pw", "alice-secret-pw").ok  # it really is the server


def test_autoconfig_is_https_only_and_certificate_checked(mail_servers: MailServers, mail_site: MailSite) -> None:
    mail_site.documents["/c.xml"] = autoconfig_xml(("127.0.0.1", 1, "SSL"), ("127.0.0.1", 2, "SSL"))
    plain = lambda d, e: [mail_site.url("/c.xml").replace("https:", "http:")]  # noqa: E731
    result = Discoverer(srv_resolver=NO_DNS, autoconfig_urls=plain, host_resolver=NO_HOSTS,
                        ca_file=str(mail_site.bundle)).discover(EMAIL)  # fmt: skip
    assert result.imap is None and any("not an HTTPS address" in n for n in result.notes)
    untrusted = Discoverer(srv_resolver=NO_DNS, autoconfig_urls=lambda d, e: [mail_site.url("/c.xml")],
                           host_resolver=NO_HOSTS, ca_file=str(mail_servers.certs.ca_pem))  # fmt: skip
    result = untrusted.discover(EMAIL)
    assert result.imap is None and any("is not trusted" in n for n in result.notes)


def test_srv_records_from_injected_resolver(mail_servers: MailServers) -> None:
    imap_port, smtp_port = mail_servers.dovecot.imap_tls_port, mail_servers.postfix.submissions_port
    table = {
        "_imaps._tcp.example.test": [SrvRecord(20, 0, 9, "backup.invalid."), SrvRecord(10, 5, imap_port, "localhost.")],
        "_imap._tcp.example.test": [SrvRecord(0, 0, mail_servers.dovecot.imap_port, "localhost.")],
        "_submissions._tcp.example.test": [SrvRecord(0, 0, smtp_port, "localhost.")],
    }
    asked: list[str] = []

    def resolve(name: str) -> list[SrvRecord]:
        asked.append(name)
        return table.get(name, [])

    def no_http(domain: str, email: str) -> list[str]:
        raise AssertionError("autoconfig must not be needed when SRV found both")

    found = Discoverer(srv_resolver=resolve, autoconfig_urls=no_http, host_resolver=NO_HOSTS).discover(EMAIL)
    assert found.imap.endpoint == Endpoint("localhost", imap_port, Security.TLS)  # priority 10 before 20; TLS first
    assert found.smtp.endpoint == Endpoint("localhost", smtp_port, Security.TLS)
    assert found.imap.source == "DNS SRV record _imaps._tcp.example.test"
    assert "_submission._tcp.example.test" in asked
    account = Account("alice", EMAIL, found.imap.endpoint, found.smtp.endpoint, EMAIL, ca_file=str(mail_servers.certs.ca_pem))
    assert check_account(account, "alice-secret-pw", "alice-secret-pw").ok


def guess_resolver(mapping: dict[tuple[str, int], tuple[str, int]]):  # type: ignore[no-untyped-def]
    return lambda host, port: [mapping[(host, port)]] if (host, port) in mapping else []


def test_guesses_are_offered_only_after_a_verified_tls_handshake(mail_servers: MailServers, mail_site: MailSite) -> None:
    dovecot, postfix = mail_servers.dovecot, mail_servers.postfix
    strict = dovecot.strict_host or dovecot.host
    with mail_site.front_door(postfix.host, postfix.submissions_port) as smtp_door, \
            mail_site.front_door(dovecot.host, dovecot.imap_port, mode="starttls") as imap_door:  # fmt: skip
        mapping = {
            # imap.example.test:993 is the real Dovecot, whose certificate does not name imap.example.test
            ("imap.example.test", 993): ("127.0.0.1", dovecot.imap_tls_port),
            # mail.example.test:993 lands on 127.0.0.2: the real Dovecot again, again the wrong certificate
            ("mail.example.test", 993): (strict, dovecot.imap_tls_port),
            # imap.example.test:143 (STARTTLS) reaches Dovecot through a door with a valid certificate
            ("imap.example.test", 143): ("127.0.0.1", imap_door.port),
            # smtp.example.test:587 (STARTTLS) is the real Postfix: handshake after STARTTLS fails
            ("smtp.example.test", 587): ("127.0.0.1", postfix.submission_port),
            # mail.example.test:465 is a valid door to Postfix (implicit TLS)
            ("mail.example.test", 465): ("127.0.0.1", smtp_door.port),
        }
        discoverer = Discoverer(srv_resolver=NO_DNS, autoconfig_urls=lambda d, e: [],
                                host_resolver=guess_resolver(mapping), ca_file=str(mail_site.bundle))  # fmt: skip
        found = discoverer.discover(EMAIL)
    assert found.imap.endpoint == Endpoint("imap.example.test", 143, Security.STARTTLS)
    assert found.smtp.endpoint == Endpoint("mail.example.test", 465, Security.TLS)
    assert "verified over TLS" in found.imap.source
    notes = "\n".join(found.notes)
    assert "imap.example.test:993 (tls): its certificate is not valid for imap.example.test" in notes
    assert "mail.example.test:993 (tls): its certificate is not valid for mail.example.test" in notes
    assert "smtp.example.test:587 (starttls): its certificate is not valid for smtp.example.test" in notes
    assert "smtp.example.test:465 (tls): smtp.example.test does not exist" in notes


def test_a_guess_answering_the_wrong_protocol_is_not_offered(mail_servers: MailServers, mail_site: MailSite) -> None:
    with mail_site.front_door(mail_servers.postfix.host, mail_servers.postfix.submissions_port) as smtp_door:
        mapping = {("imap.example.test", 993): ("127.0.0.1", smtp_door.port)}  # an SMTP server on the IMAP name
        plan = GuessPlan(imap_hosts=("imap",), smtp_hosts=(), imap_ports=((993, Security.TLS),))
        found = Discoverer(srv_resolver=NO_DNS, autoconfig_urls=lambda d, e: [], host_resolver=guess_resolver(mapping),
                           guess_plan=plan, ca_file=str(mail_site.bundle)).discover(EMAIL)  # fmt: skip
    assert found.imap is None
    assert "imap.example.test:993 (tls): it does not greet like an IMAP server." in found.notes
