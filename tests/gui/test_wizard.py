"""The account wizard driven like a person would, against the real Dovecot and Postfix.

Discovery never reaches real DNS or the internet: autoconfig comes from a loopback HTTPS server, SRV
records and host names from injected resolvers. Every page is saved as /tmp/wizard-<page>.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard
from pytestqt.qtbot import QtBot

from sharedclient.core.store.audit import AuditLog, audit_path
from sharedclient.core.autodiscover import Discoverer
from sharedclient.core.autodiscover.guess import GuessPlan
from sharedclient.core.autodiscover.srv import SrvRecord
from sharedclient.core.identities import IdentityStatus
from sharedclient.core.model import Endpoint, Security, SendMode
from sharedclient.core.profiles import ProfileStore
from sharedclient.core.secrets import SessionCredentials
from sharedclient.core.store.checks import IdentityCheckStore
from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.ui.wizard import AccountWizard, WizardContext
from sharedclient.ui.wizard.wizard import DISCOVER, DONE, IDENTITIES, MANUAL, SHARED, TEST
from tests.servers.mail_site import MailSite, autoconfig_xml, mail_site  # noqa: F401 - fixture

if TYPE_CHECKING:
    from tests.conftest import MailServers

NO_DNS = lambda name: []  # noqa: E731
NO_HOSTS = lambda host, port: []  # noqa: E731
NETWORK_WAIT = 30000


def shot(wizard: AccountWizard, name: str) -> None:
    wizard.grab().save(f"/tmp/wizard-{name}.png")


def make_wizard(qtbot: QtBot, home: Path, discoverer: Discoverer) -> tuple[AccountWizard, SessionCredentials]:
    profile = ProfileStore(home).get("default")
    creds = SessionCredentials()
    wizard = AccountWizard(WizardContext(profile, creds, discoverer))
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard, creds


def fill_intro(qtbot: QtBot, wizard: AccountWizard, user: str = "alice", name: str = "Alice Example") -> None:
    qtbot.keyClicks(wizard.intro.name, name)
    qtbot.keyClicks(wizard.intro.email, f"{user}@example.test")
    qtbot.keyClicks(wizard.intro.password, f"{user}-secret-pw")


def next_page(qtbot: QtBot, wizard: AccountWizard) -> None:
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)


def test_autoconfig_discovery_through_to_saved_account_and_identities(
    qtbot: QtBot, mail_servers: MailServers, mail_site: MailSite, tmp_path: Path
) -> None:
    mail_site.documents["/mail/config-v1.1.xml"] = autoconfig_xml(
        ("127.0.0.1", mail_servers.dovecot.imap_tls_port, "SSL"), ("127.0.0.1", mail_servers.postfix.submission_port, "STARTTLS")
    )
    discoverer = Discoverer(srv_resolver=NO_DNS, autoconfig_urls=lambda d, e: [mail_site.url("/mail/config-v1.1.xml")],
                            host_resolver=NO_HOSTS, ca_file=str(mail_site.bundle))  # fmt: skip
    wizard, creds = make_wizard(qtbot, tmp_path, discoverer)
    shot(wizard, "1-empty")
    next_page(qtbot, wizard)  # nothing typed: a sentence, not a crash, and no page change
    assert wizard.currentId() == 0 and "not a valid e-mail address" in wizard.intro.error.text()
    fill_intro(qtbot, wizard)
    shot(wizard, "1-intro")
    next_page(qtbot, wizard)

    assert wizard.currentId() == DISCOVER
    qtbot.waitUntil(lambda: wizard.discover_page.finished, timeout=NETWORK_WAIT)
    summary = wizard.discover_page.summary.text()
    assert f"127.0.0.1:{mail_servers.dovecot.imap_tls_port} (tls) — from autoconfig file https://localhost" in summary
    assert f"127.0.0.1:{mail_servers.postfix.submission_port} (starttls)" in summary
    shot(wizard, "2-discovery-autoconfig")
    next_page(qtbot, wizard)

    assert wizard.currentId() == TEST  # found both: straight to the test
    qtbot.waitUntil(lambda: wizard.account is not None, timeout=NETWORK_WAIT)
    assert wizard.test_page.imap_line.text().startswith("✔ IMAP")
    assert wizard.test_page.smtp_line.text().startswith("✔ SMTP")
    shot(wizard, "4-test-ok")
    next_page(qtbot, wizard)

    assert wizard.currentId() == SHARED
    qtbot.waitUntil(lambda: wizard.shared.list.count() == 2, timeout=NETWORK_WAIT)
    texts = [wizard.shared.list.item(i).text() for i in range(2)]
    assert texts == ["sales@example.test — INBOX, Archive, Sent (read only)",
                     "support@example.test — INBOX, Archive, Sent (read and write)"]  # fmt: skip
    shot(wizard, "5-shared")
    next_page(qtbot, wizard)

    assert wizard.currentId() == IDENTITIES
    page = wizard.identities
    qtbot.waitUntil(lambda: len(wizard.checks) == 3, timeout=NETWORK_WAIT)
    verdicts = {addr: r.status for (_acct, addr, _mode), r in wizard.checks.items()}
    assert verdicts == {"alice@example.test": IdentityStatus.VERIFIED, "support@example.test": IdentityStatus.VERIFIED,
                        "sales@example.test": IdentityStatus.DENIED}  # fmt: skip
    assert [page.list.item(i).text() for i in range(3)] == [
        "alice@example.test\nown — ✔ allowed", "sales@example.test\nSend As — ✘ refused",
        "support@example.test\nSend As — ✔ allowed"]  # fmt: skip
    page.list.setCurrentRow(1)
    assert page.form.verdict.text().startswith("✘ refused") and "sales@example.test" in page.form.verdict.text()
    page.list.item(1).setCheckState(Qt.CheckState.Unchecked)  # alice may not send as sales@: leave it out
    page.list.setCurrentRow(2)
    page.form.display_name.setText("Support Team")
    page.form.mode.setCurrentIndex(page.form.mode.findData(SendMode.ON_BEHALF))
    page.form.aliases.setText("help@example.test")
    page.form.signature.setPlainText("Support Team\nexample.test")
    qtbot.mouseClick(page.form.check_button, Qt.MouseButton.LeftButton)  # the verdict for On Behalf, right here
    qtbot.waitUntil(lambda: any(k[2] == "on-behalf" for k in wizard.checks), timeout=NETWORK_WAIT)
    assert page.form.verdict.text().startswith("✔ allowed")
    page.form.aliases.setText("not an address")  # a bad value keeps you on the row with a sentence
    page.list.setCurrentRow(0)
    assert page.list.currentRow() == 2 and "not an address" in page.error.text()
    page.form.aliases.setText("help@example.test")
    shot(wizard, "6-identities")
    next_page(qtbot, wizard)

    assert wizard.currentId() == DONE
    assert "support@example.test" in wizard.done_page.summary.text()
    shot(wizard, "7-done")
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)
    assert wizard.saved and not wizard.isVisible()

    # What a restart reads back: settings.json, the session's passwords and the stored verdicts.
    profile = ProfileStore(tmp_path).get("default")
    settings = profile.load()
    (account,) = settings.accounts
    assert (account.name, account.email, account.username) == ("alice", "alice@example.test", "alice@example.test")
    assert account.imap == Endpoint("127.0.0.1", mail_servers.dovecot.imap_tls_port, Security.TLS)
    assert account.smtp == Endpoint("127.0.0.1", mail_servers.postfix.submission_port, Security.STARTTLS)
    assert account.ca_file == str(mail_site.bundle)
    by_address = {i.address: i for i in settings.identities}
    assert set(by_address) == {"alice@example.test", "support@example.test"}
    assert by_address["alice@example.test"].name == "Alice Example"
    support = by_address["support@example.test"]
    assert (support.mode, support.name, support.aliases, support.mailbox_owner) == (
        SendMode.ON_BEHALF, "Support Team", ("help@example.test",), "support@example.test")
    assert support.signature == "Support Team\nexample.test"
    assert creds.get("alice", "imap") == creds.get("alice", "smtp") == "alice-secret-pw"
    with ProfileDb.for_data_dir(profile.data_dir) as db:
        stored = IdentityCheckStore(db).all()
    assert stored[("alice", "support@example.test", "on-behalf")].status is IdentityStatus.VERIFIED
    with AuditLog(audit_path(profile.data_dir), profile.name) as trail:  # what Finish changed is audited
        assert [(e.action, e.account, e.target) for e in trail.entries()] == [
            ("account.add", "alice", None), ("identity.add", "alice", {"identity": "alice@example.test"}),
            ("identity.add", "alice", {"identity": "support@example.test"}),
        ]


def test_srv_discovery_from_injected_resolver(qtbot: QtBot, mail_servers: MailServers, tmp_path: Path) -> None:
    table = {
        "_imaps._tcp.example.test": [SrvRecord(0, 0, mail_servers.dovecot.imap_tls_port, "localhost.")],
        "_submission._tcp.example.test": [SrvRecord(0, 0, mail_servers.postfix.submission_port, "localhost.")],
    }
    discoverer = Discoverer(srv_resolver=lambda name: table.get(name, []), autoconfig_urls=lambda d, e: [],
                            host_resolver=NO_HOSTS, ca_file=str(mail_servers.certs.ca_pem))  # fmt: skip
    wizard, _creds = make_wizard(qtbot, tmp_path, discoverer)
    fill_intro(qtbot, wizard, "bob", "Bob Builder")
    next_page(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.discover_page.finished, timeout=NETWORK_WAIT)
    assert "from DNS SRV record _imaps._tcp.example.test" in wizard.discover_page.summary.text()
    assert "from DNS SRV record _submission._tcp.example.test" in wizard.discover_page.summary.text()
    shot(wizard, "2-discovery-srv")
    next_page(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.account is not None, timeout=NETWORK_WAIT)
    assert wizard.account.imap == Endpoint("localhost", mail_servers.dovecot.imap_tls_port, Security.TLS)
    assert wizard.account.name == "bob"


def test_guess_verification_offers_only_a_working_tls_host(
    qtbot: QtBot, mail_servers: MailServers, mail_site: MailSite, tmp_path: Path
) -> None:
    dovecot = mail_servers.dovecot
    with mail_site.front_door(dovecot.host, dovecot.imap_tls_port) as door:
        mapping = {("imap.example.test", 993): (dovecot.strict_host or dovecot.host, dovecot.imap_tls_port),  # bad cert
                   ("mail.example.test", 993): ("127.0.0.1", door.port)}  # valid certificate for the name
        plan = GuessPlan(imap_ports=((993, Security.TLS),), smtp_ports=((465, Security.TLS),))
        discoverer = Discoverer(srv_resolver=NO_DNS, autoconfig_urls=lambda d, e: [], guess_plan=plan,
                                host_resolver=lambda h, p: [mapping[(h, p)]] if (h, p) in mapping else [],
                                ca_file=str(mail_site.bundle))  # fmt: skip
        wizard, _creds = make_wizard(qtbot, tmp_path, discoverer)
        fill_intro(qtbot, wizard)
        next_page(qtbot, wizard)
        qtbot.waitUntil(lambda: wizard.discover_page.finished, timeout=NETWORK_WAIT)
    page = wizard.discover_page
    assert "mail.example.test:993 (tls) — from the usual name mail.example.test, verified over TLS" in page.summary.text()
    assert "imap.example.test" not in page.summary.text()
    notes = [page.notes.item(i).text() for i in range(page.notes.count())]
    assert any(n.startswith("imap.example.test:993 (tls): its certificate is not valid for imap.example.test") for n in notes)
    assert "No SMTP server was found for example.test; enter it on the next page." in notes
    shot(wizard, "2-discovery-guess")
    next_page(qtbot, wizard)
    assert wizard.currentId() == MANUAL  # SMTP is missing: the manual page, with IMAP filled in
    assert wizard.server_form.imap.host.text() == "mail.example.test"
    shot(wizard, "3-manual-after-guess")


def test_manual_settings_validation_failed_test_and_fix(qtbot: QtBot, mail_servers: MailServers, tmp_path: Path) -> None:
    discoverer = Discoverer(srv_resolver=NO_DNS, autoconfig_urls=lambda d, e: [], host_resolver=NO_HOSTS)
    wizard, _creds = make_wizard(qtbot, tmp_path, discoverer)
    fill_intro(qtbot, wizard, "carol", "Carol Chen")
    wizard.intro.manual.setChecked(True)
    next_page(qtbot, wizard)
    assert wizard.currentId() == MANUAL
    form = wizard.server_form
    assert form.name.text() == "carol" and form.username.text() == "carol@example.test"
    wizard.back()  # a typo in the address: the suggestions follow the corrected one
    wizard.intro.email.setText("carol.chen@example.test")
    next_page(qtbot, wizard)
    assert form.name.text() == "carol.chen" and form.username.text() == "carol.chen@example.test"
    wizard.back()
    wizard.intro.email.setText("carol@example.test")
    next_page(qtbot, wizard)
    assert form.name.text() == "carol" and form.username.text() == "carol@example.test"
    qtbot.keyClicks(form.imap.host, "bad host name")
    next_page(qtbot, wizard)
    assert wizard.currentId() == MANUAL and "is not of the form HOST:PORT" in form.error.text()
    form.imap.host.setText("127.0.0.1")
    form.imap.port.setValue(mail_servers.dovecot.imap_tls_port)
    form.smtp.host.setText("127.0.0.1")
    form.smtp.security.setCurrentIndex(form.smtp.security.findData(Security.STARTTLS))
    assert form.smtp.port.value() == 587  # the default port follows the security choice
    form.smtp.port.setValue(mail_servers.postfix.submission_port)
    form.ca_file.setText(str(tmp_path / "missing.pem"))
    next_page(qtbot, wizard)
    assert "does not exist" in form.error.text()
    form.ca_file.clear()  # without the test CA the certificate is not trusted: the test says so
    shot(wizard, "3-manual")
    next_page(qtbot, wizard)
    assert wizard.currentId() == TEST
    qtbot.waitUntil(lambda: wizard.test_page.change.isVisible(), timeout=NETWORK_WAIT)
    assert "✘ IMAP" in wizard.test_page.imap_line.text() and "not trusted" in wizard.test_page.imap_line.text()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    shot(wizard, "4-test-failed")
    qtbot.mouseClick(wizard.test_page.change, Qt.MouseButton.LeftButton)
    assert wizard.currentId() == MANUAL
    form.ca_file.setText(str(mail_servers.certs.ca_pem))
    next_page(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.account is not None, timeout=NETWORK_WAIT)
    next_page(qtbot, wizard)
    qtbot.waitUntil(lambda: "cannot open any shared mailbox" in wizard.shared.status.text(), timeout=NETWORK_WAIT)


def test_shared_mailbox_with_its_own_login(qtbot: QtBot, mail_servers: MailServers, tmp_path: Path) -> None:
    table = {"_imaps._tcp.example.test": [SrvRecord(0, 0, mail_servers.dovecot.imap_tls_port, "127.0.0.1.")],
             "_submissions._tcp.example.test": [SrvRecord(0, 0, mail_servers.postfix.submissions_port, "127.0.0.1.")]}
    discoverer = Discoverer(srv_resolver=lambda n: table.get(n, []), autoconfig_urls=lambda d, e: [],
                            host_resolver=NO_HOSTS, ca_file=str(mail_servers.certs.ca_pem))  # fmt: skip
    wizard, creds = make_wizard(qtbot, tmp_path, discoverer)
    fill_intro(qtbot, wizard)
    next_page(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.discover_page.finished, timeout=NETWORK_WAIT)
    next_page(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.account is not None, timeout=NETWORK_WAIT)
    next_page(qtbot, wizard)
    shared = wizard.shared
    qtbot.waitUntil(lambda: shared.list.count() == 2, timeout=NETWORK_WAIT)
    for row in range(2):
        shared.list.item(row).setCheckState(Qt.CheckState.Unchecked)
    shared.own.setChecked(True)
    qtbot.keyClicks(shared.own_address, "support@example.test")
    assert shared.own_login.text() == "alice@example.test\\support@example.test"  # the Microsoft 365 pattern
    next_page(qtbot, wizard)
    assert wizard.currentId() == SHARED and "Test the shared mailbox's login first" in shared.error.text()
    qtbot.mouseClick(shared.own_test, Qt.MouseButton.LeftButton)  # Dovecot has no such master login
    qtbot.waitUntil(lambda: shared.own_result.text().startswith("✘"), timeout=NETWORK_WAIT)
    assert "rejected the user name or password" in shared.own_result.text()
    shared.own_login.setText("support@example.test")  # here the shared mailbox has a login of its own
    qtbot.keyClicks(shared.own_password, "support-secret-pw")
    qtbot.mouseClick(shared.own_test, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: shared.own_result.text().startswith("✔"), timeout=NETWORK_WAIT)
    shot(wizard, "5-shared-own-login")
    next_page(qtbot, wizard)
    qtbot.waitUntil(lambda: len(wizard.checks) == 2, timeout=NETWORK_WAIT)
    assert {(k[0], k[1], r.status) for k, r in wizard.checks.items()} == {
        ("alice", "alice@example.test", IdentityStatus.VERIFIED), ("support", "support@example.test", IdentityStatus.VERIFIED)}
    next_page(qtbot, wizard)
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)
    settings = ProfileStore(tmp_path).get("default").load()
    assert [(a.name, a.kind, a.username) for a in settings.accounts] == [
        ("alice", "personal", "alice@example.test"), ("support", "shared", "support@example.test")]
    assert creds.get("support", "imap") == "support-secret-pw"
    assert [(i.address, i.account, i.mode) for i in settings.identities] == [
        ("alice@example.test", "alice", SendMode.OWN), ("support@example.test", "support", SendMode.OWN)]


def test_cancelling_discovery_goes_to_manual_settings(qtbot: QtBot, tmp_path: Path) -> None:
    import threading

    release = threading.Event()

    def slow_dns(name: str) -> list[SrvRecord]:  # a DNS server that does not answer until released
        release.wait(10)
        return []

    discoverer = Discoverer(srv_resolver=slow_dns, autoconfig_urls=lambda d, e: [], host_resolver=NO_HOSTS)
    wizard, _creds = make_wizard(qtbot, tmp_path, discoverer)
    fill_intro(qtbot, wizard)
    next_page(qtbot, wizard)
    page = wizard.discover_page
    qtbot.waitUntil(lambda: "DNS SRV" in page.status.text(), timeout=5000)
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    shot(wizard, "2-discovery-running")
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    assert page.finished and "Search stopped" in page.status.text()
    release.set()
    next_page(qtbot, wizard)
    assert wizard.currentId() == MANUAL
