"""The account wizard: name, address, password → discovery → (manual settings) → connection test →
shared mailboxes → identities with the server's verdict → done.

Every network step runs on the wizard's own worker threads and comes back through the main-thread
bridge; the GUI thread never waits on the network. Nothing is saved until Finish: then the accounts and
identities go into the profile's settings file (atomically) and the passwords into the keyring, or into
memory for this session when no secure keyring exists.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtWidgets import QWidget, QWizard

from sharedclient.core.auditing import profile_audit, record_setup
from sharedclient.core.autodiscover import Discoverer
from sharedclient.core.errors import SharedClientError
from sharedclient.core.identities import CheckResult, check_key
from sharedclient.core.model import Account, Identity
from sharedclient.core.profiles import Profile
from sharedclient.core.secrets import CredentialStore, SessionCredentials
from sharedclient.core.store.checks import IdentityCheckStore
from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.ui.bridge import MainThreadBridge
from sharedclient.ui.wizard import pages_mailboxes, pages_servers
from sharedclient.ui.wizard.serverform import ServerForm

log = logging.getLogger(__name__)

INTRO, DISCOVER, MANUAL, TEST, SHARED, IDENTITIES, DONE = range(7)


@dataclass
class WizardContext:
    """Where the result goes and how the network is reached (tests inject a loopback Discoverer)."""

    profile: Profile
    credentials: CredentialStore
    discoverer: Discoverer = field(default_factory=Discoverer)


@dataclass
class WizardResult:
    accounts: list[tuple[Account, str]] = field(default_factory=list)  # with the password
    identities: list[Identity] = field(default_factory=list)  # to save (an own one only when it adds something)
    checked: list[Identity] = field(default_factory=list)  # whose verdicts to keep (also the implicit own one)


def account_name_for(email: str, taken: set[str]) -> str:
    """A short, valid, unused account name from the address: ``alice``, ``alice-2``…"""
    base = re.sub(r"[^A-Za-z0-9._-]", "-", email.partition("@")[0]).strip("-._")[:50] or "mail"
    if not base[0].isalnum():
        base = "mail-" + base
    name, n = base, 2
    while name.lower() in {t.lower() for t in taken}:
        name, n = f"{base}-{n}", n + 1
    return name


class AccountWizard(QWizard):
    def __init__(self, context: WizardContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("accountWizard")
        self.setWindowTitle(self.tr("Set up a mail account"))
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage)
        self.resize(720, 560)
        self.context = context
        self.pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="wizard")
        self.bridge = MainThreadBridge(self)
        self.server_form = ServerForm()  # lives on the manual page; discovery fills it in
        self.account: Account | None = None  # set once the connection test passed
        self.result_data = WizardResult()
        self.checks: dict[tuple[str, str, str], CheckResult] = {}
        self.saved = False
        self.intro = pages_servers.IntroPage(self)
        self.discover_page = pages_servers.DiscoverPage(self)
        self.manual = pages_servers.ManualPage(self)
        self.test_page = pages_servers.TestPage(self)
        self.shared = pages_mailboxes.SharedPage(self)
        self.identities = pages_mailboxes.IdentitiesPage(self)
        self.done_page = pages_mailboxes.DonePage(self)
        for page_id, page in ((INTRO, self.intro), (DISCOVER, self.discover_page), (MANUAL, self.manual),
                              (TEST, self.test_page), (SHARED, self.shared), (IDENTITIES, self.identities),
                              (DONE, self.done_page)):  # fmt: skip
            self.setPage(page_id, page)
        self.setStartId(INTRO)

    # -- what the first page says --------------------------------------------------------------------

    def email(self) -> str:
        return self.intro.email.text().strip()

    def password(self) -> str:
        return self.intro.password.text()

    def display_name(self) -> str:
        return " ".join(self.intro.name.text().split())

    def password_note(self) -> str:
        if isinstance(self.context.credentials, SessionCredentials):
            return self.tr("No secure password store is available: the password is kept only until you quit.")
        return self.tr("The password is kept in your system's password store (keyring), never in a file.")

    def taken_account_names(self) -> set[str]:
        try:
            return {a.name for a in self.context.profile.load().accounts}
        except SharedClientError:
            return set()

    # -- background work --------------------------------------------------------------------------

    def run(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
            on_error: Callable[[SharedClientError], None]) -> Future[Any]:  # fmt: skip
        """``fn`` on a worker thread; the callbacks on the GUI thread (unless the wizard is gone)."""
        future = self.pool.submit(fn)
        self.bridge.when_done(future, on_done, on_error)
        return future

    def done(self, result: int) -> None:  # noqa: D401 - Qt override: closing, by Finish or Cancel
        self.discover_page.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)
        super().done(result)

    # -- saving -----------------------------------------------------------------------------------

    def commit(self) -> None:
        """Save accounts, identities, passwords and the checks' verdicts; SharedClientError on failure."""
        profile, creds = self.context.profile, self.context.credentials
        settings = profile.load()
        audit = profile_audit(profile.data_dir, profile.name)  # a damaged audit trail refuses the change
        try:
            for account, _password in self.result_data.accounts:
                settings = settings.with_account(account)
            for identity in self.result_data.identities:
                settings = settings.with_identity(identity)
            for account, password in self.result_data.accounts:
                creds.set(account.name, "imap", password)
                creds.set(account.name, "smtp", password)
            try:
                profile.save(settings)
            except Exception:
                for account, _password in self.result_data.accounts:
                    creds.delete(account.name)
                raise
        except BaseException:
            audit.close()
            raise
        self.saved = True
        record_setup(audit, [a for a, _p in self.result_data.accounts], self.result_data.identities)
        try:
            with ProfileDb.for_data_dir(profile.data_dir) as db:
                store = IdentityCheckStore(db)
                for identity in self.result_data.checked:
                    result = self.checks.get(check_key(identity))
                    if result is not None:
                        store.record(identity, result)
        except SharedClientError as exc:  # the verdicts are a convenience: the From-picker checks again
            log.warning("could not store identity checks: %s", exc.user_message)


def run_first_start(profile: Profile, credentials: CredentialStore, discoverer: Discoverer | None = None) -> list[Account]:
    """Starting without any account: the wizard, modal; the accounts it saved ([] when cancelled)."""
    context = WizardContext(profile, credentials)
    if discoverer is not None:
        context.discoverer = discoverer
    wizard = AccountWizard(context)
    wizard.setWindowTitle(wizard.tr("Welcome to SharedClient — set up your mail account"))
    wizard.exec()
    return list(profile.load().accounts) if wizard.saved else []
