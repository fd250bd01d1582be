"""The account wizard (first start, and Settings → Add account)."""

from sharedclient.ui.wizard.wizard import AccountWizard, WizardContext

__all__ = ["AccountWizard", "WizardContext"]
