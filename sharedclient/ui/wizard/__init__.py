"""The account wizard (first start, and Settings → Add account)."""

from sharedclient.ui.wizard.wizard import AccountWizard, WizardContext, run_first_start

__all__ = ["AccountWizard", "WizardContext", "run_first_start"]
