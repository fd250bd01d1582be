"""What the profile says about data-loss rules and sending volume (the ``dlp`` part of the settings file).

JSON form (every key optional)::

    "dlp": {
      "rules":   [{"name": "codename", "pattern": "project\\\\s+falcon", "label": "Project code name",
                   "ignore_case": true}],
      "actions": {"card": "block", "ssn": "block", "iban": "warn", "codename": "warn"},
      "identities": {"support@example.test": {"iban": "block", "codename": "off"}},
      "volume": {"messages": 100, "minutes": 60, "action": "warn",
                 "identities": {"promo@example.test": {"messages": 500, "minutes": 60, "action": "block"}}}
    }

Actions: ``block`` (never sent), ``warn`` (sent only with a typed justification, which is audited), ``off``.
Defaults: cards and SSNs block, IBANs and custom rules warn, the volume guard warns above 100 messages
in 60 minutes per identity. An identity's entry overrides the default for that identity only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sharedclient.core.dlp import BUILTIN_LABELS, CARD, IBAN, SSN, CustomRule, compile_rule
from sharedclient.core.errors import UsageError

BLOCK, WARN, OFF = "block", "warn", "off"
ACTIONS = (BLOCK, WARN, OFF)
DEFAULT_ACTIONS = {CARD: BLOCK, SSN: BLOCK, IBAN: WARN}
VOLUME_RULE = "volume"


@dataclass(frozen=True)
class VolumeLimit:
    """More than ``messages`` in ``minutes`` from one identity triggers ``action``."""

    messages: int = 100
    minutes: int = 60
    action: str = WARN

    def check(self) -> VolumeLimit:
        if self.messages < 1 or self.minutes < 1:
            raise UsageError("A sending-volume limit needs at least 1 message in at least 1 minute.")
        _check_action(self.action, "the sending-volume limit")
        return self


@dataclass(frozen=True)
class DlpPolicy:
    rules: tuple[CustomRule, ...] = ()
    actions: dict[str, str] = field(default_factory=dict)  # rule -> action (defaults for every identity)
    identities: dict[str, dict[str, str]] = field(default_factory=dict)  # address (lower) -> rule -> action
    volume: VolumeLimit = VolumeLimit()
    volume_identities: dict[str, VolumeLimit] = field(default_factory=dict)

    def __hash__(self) -> int:  # dict fields: hash what equality compares
        return hash(json.dumps(policy_to_json(self), sort_keys=True))

    def rule_names(self) -> list[str]:
        return [*BUILTIN_LABELS, *(r.name for r in self.rules)]

    def action_for(self, rule: str, identity: str) -> str:
        per_identity = self.identities.get(identity.lower(), {})
        if rule in per_identity:
            return per_identity[rule]
        return self.actions.get(rule, DEFAULT_ACTIONS.get(rule, WARN))

    def volume_for(self, identity: str) -> VolumeLimit:
        return self.volume_identities.get(identity.lower(), self.volume)

    def validate(self) -> DlpPolicy:
        """Raise UsageError with one sentence for the first problem; returns self."""
        names = set(BUILTIN_LABELS)
        for rule in self.rules:
            compile_rule(rule.name, rule.pattern, rule.ignore_case)
            if rule.name in names:
                raise UsageError(f"There are two DLP rules named “{rule.name}”.")
            names.add(rule.name)
        tables = [("the default actions", self.actions)] + [(f"identity {a}", t) for a, t in self.identities.items()]
        for what, table in tables:
            for rule, action in table.items():
                if rule not in names:
                    raise UsageError(f"The DLP settings for {what} name a rule “{rule}” that does not exist.")
                _check_action(action, f"rule “{rule}” ({what})")
        self.volume.check()
        for limit in self.volume_identities.values():
            limit.check()
        return self


def _check_action(action: str, what: str) -> None:
    if action not in ACTIONS:
        raise UsageError(f"The action for {what} must be block, warn or off, not “{action}”.")


# -- JSON ------------------------------------------------------------------------------------------


def policy_to_json(policy: DlpPolicy) -> dict[str, Any]:
    def limit(v: VolumeLimit) -> dict[str, Any]:
        return {"messages": v.messages, "minutes": v.minutes, "action": v.action}

    return {
        "rules": [
            {"name": r.name, "pattern": r.pattern, "label": r.label, "ignore_case": r.ignore_case} for r in policy.rules
        ],
        "actions": dict(policy.actions),
        "identities": {k: dict(v) for k, v in policy.identities.items()},
        "volume": {**limit(policy.volume), "identities": {k: limit(v) for k, v in policy.volume_identities.items()}},
    }


def policy_from_json(data: dict[str, Any] | None) -> DlpPolicy:
    """Read and validate; UsageError names the bad rule or value (the settings loader adds the file name)."""
    if not data:
        return DlpPolicy()
    if not isinstance(data, dict):
        raise UsageError("The “dlp” settings must be an object.")
    try:
        rules = tuple(
            CustomRule(str(r["name"]), str(r["pattern"]), str(r.get("label", "")), bool(r.get("ignore_case", True)))
            for r in data.get("rules", [])
        )
        volume_data = dict(data.get("volume", {}))
        per_identity = volume_data.pop("identities", {})
        volume = VolumeLimit(**{k: volume_data[k] for k in ("messages", "minutes", "action") if k in volume_data})
        policy = DlpPolicy(
            rules=rules,
            actions={str(k): str(v) for k, v in data.get("actions", {}).items()},
            identities={str(a).lower(): {str(k): str(v) for k, v in t.items()} for a, t in data.get("identities", {}).items()},
            volume=volume,
            volume_identities={str(a).lower(): VolumeLimit(**v) for a, v in per_identity.items()},
        )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise UsageError(f"The “dlp” settings are malformed ({exc!r}).") from None
    return policy.validate()
