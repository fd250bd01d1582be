"""SharedClient: a desktop mail client for shared mailboxes (support@, sales@)."""

__version__ = "0.1.0"
