import keyring.backends.fail
import keyring.backends.null
import pytest
from keyring.backends.chainer import ChainerBackend

from tests.memory_keyring import MemoryKeyring
from sharedclient.core.errors import SecretStoreError
from sharedclient.core.secrets import KeyringCredentials, SessionCredentials, backend_is_secure


@pytest.mark.parametrize("backend", [keyring.backends.fail.Keyring(), keyring.backends.null.Keyring()])
def test_insecure_backends_are_refused_with_install_advice(backend: keyring.backend.KeyringBackend) -> None:
    assert not backend_is_secure(backend)
    with pytest.raises(SecretStoreError, match="gnome-keyring"):
        KeyringCredentials("default", backend)


def test_plaintext_file_backend_is_refused() -> None:
    plaintext = type("PlaintextKeyring", (MemoryKeyring,), {"__module__": "keyrings.alt.file"})()
    assert not backend_is_secure(plaintext)


def test_keyring_layout_is_service_per_profile_and_user_per_account() -> None:
    backend = MemoryKeyring()
    creds = KeyringCredentials("work", backend)
    creds.set("office", "imap", "s3cret")
    creds.set("office", "smtp", "s3cret2")
    assert backend.entries == {("sharedclient/work", "office/imap"): "s3cret", ("sharedclient/work", "office/smtp"): "s3cret2"}
    assert creds.get("office", "imap") == "s3cret"
    creds.delete("office")
    creds.delete("office")  # deleting what is not there is fine
    assert backend.entries == {}


def test_chainer_is_secure_when_it_holds_a_secure_backend() -> None:
    chain = ChainerBackend.__new__(ChainerBackend)
    chain.__dict__["backends"] = [keyring.backends.fail.Keyring(), MemoryKeyring()]
    assert backend_is_secure(chain)


def test_session_credentials_stay_in_memory() -> None:
    creds = SessionCredentials()
    creds.set("a", "imap", "pw")
    assert creds.get("a", "imap") == "pw"
    creds.delete("a")
    assert creds.get("a", "imap") is None
