"""Finding a mail domain's IMAP and SMTP servers from an address (the account wizard's first step)."""

from sharedclient.core.autodiscover.discover import Discoverer, Discovery, DiscoveryCancelled, Found

__all__ = ["Discoverer", "Discovery", "DiscoveryCancelled", "Found"]
