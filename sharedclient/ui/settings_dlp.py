"""Settings → DLP rules: what happens when a message contains a card number, SSN, IBAN or one of the
profile's own patterns, and the sending-volume guard. Validated by core.dlp_policy before it is saved.

Per-identity overrides (``dlp.identities`` in the settings file) are kept as they are; they are not
edited here yet.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sharedclient.core.dlp import BUILTIN_LABELS, CustomRule
from sharedclient.core.dlp_policy import ACTIONS, DlpPolicy, VolumeLimit
from sharedclient.core.errors import SharedClientError
from sharedclient.ui.wizard.pages_servers import error_label, show_error

if TYPE_CHECKING:
    from sharedclient.ui.settingswindow import SettingsWindow

COLUMNS = ("Name", "Pattern (regular expression)", "Label", "Ignore case", "Action")
ACTION_WORDS = {"block": "Block (never sent)", "warn": "Warn (send with a reason)", "off": "Off"}


def _action_box(action: str) -> QComboBox:
    box = QComboBox()
    for value in ACTIONS:
        box.addItem(ACTION_WORDS[value], value)
    box.setCurrentIndex(box.findData(action))
    return box


class DlpTab(QWidget):
    def __init__(self, window: SettingsWindow) -> None:
        super().__init__()
        self.w = window
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("dlpRules")
        self.table.setAccessibleName(self.tr("Data-loss rules"))
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(2, 170)
        header.resizeSection(4, 210)
        self.table.verticalHeader().hide()
        self.add_button = QPushButton(self.tr("Add rule"))
        self.add_button.setObjectName("addDlpRule")
        self.remove_button = QPushButton(self.tr("Remove rule"))
        self.remove_button.setObjectName("removeDlpRule")
        self.save_button = QPushButton(self.tr("Save DLP rules"))
        self.save_button.setObjectName("saveDlp")
        self.add_button.clicked.connect(lambda: self._add_row(CustomRule("", "", "", True), "warn"))
        self.remove_button.clicked.connect(self._remove_row)
        self.save_button.clicked.connect(self.save)
        self.volume_messages = QSpinBox()
        self.volume_messages.setObjectName("volumeMessages")
        self.volume_messages.setRange(1, 100000)
        self.volume_minutes = QSpinBox()
        self.volume_minutes.setObjectName("volumeMinutes")
        self.volume_minutes.setRange(1, 100000)
        self.volume_action = _action_box("warn")
        self.volume_action.setObjectName("volumeAction")
        volume = QFormLayout()
        volume.addRow(self.tr("More than this many messages from one address:"), self.volume_messages)
        volume.addRow(self.tr("within minutes:"), self.volume_minutes)
        volume.addRow(self.tr("then:"), self.volume_action)
        self.result = QLabel()
        self.result.setObjectName("dlpResult")
        self.error = error_label("dlpError")
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("Checked before every message is sent (subject, text and text attachments).")))
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addLayout(volume)
        layout.addWidget(self.result)
        layout.addWidget(self.error)
        self.refresh()

    def refresh(self) -> None:
        try:
            self.policy = self.w.settings().dlp
        except SharedClientError as exc:
            show_error(self.error, exc.user_message)
            return
        self.table.setRowCount(0)
        for name, label in BUILTIN_LABELS.items():
            self._add_row(CustomRule(name, self.tr("built in"), label, True), self.policy.action_for(name, ""), builtin=True)
        for rule in self.policy.rules:
            self._add_row(rule, self.policy.action_for(rule.name, ""))
        self.volume_messages.setValue(self.policy.volume.messages)
        self.volume_minutes.setValue(self.policy.volume.minutes)
        self.volume_action.setCurrentIndex(self.volume_action.findData(self.policy.volume.action))

    def _add_row(self, rule: CustomRule, action: str, builtin: bool = False) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, text in enumerate((rule.name, rule.pattern, rule.label)):
            item = QTableWidgetItem(text)
            if builtin:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            item.setData(Qt.ItemDataRole.UserRole, builtin)
            self.table.setItem(row, col, item)
        case = QTableWidgetItem()
        case.setFlags((case.flags() | Qt.ItemFlag.ItemIsUserCheckable) & ~Qt.ItemFlag.ItemIsEditable)
        case.setCheckState(Qt.CheckState.Checked if rule.ignore_case else Qt.CheckState.Unchecked)
        self.table.setItem(row, 3, case)
        self.table.setCellWidget(row, 4, _action_box(action))

    def _remove_row(self) -> None:
        row = self.table.currentRow()
        if row >= 0 and not self.table.item(row, 0).data(Qt.ItemDataRole.UserRole):
            self.table.removeRow(row)

    def policy_from_table(self) -> DlpPolicy:
        rules, actions = [], {}
        for row in range(self.table.rowCount()):
            name = self.table.item(row, 0).text().strip()
            action = self.table.cellWidget(row, 4).currentData()  # type: ignore[union-attr]
            if not self.table.item(row, 0).data(Qt.ItemDataRole.UserRole):
                rules.append(CustomRule(name, self.table.item(row, 1).text(), self.table.item(row, 2).text().strip(),
                                        self.table.item(row, 3).checkState() == Qt.CheckState.Checked))  # fmt: skip
            actions[name] = action
        volume = VolumeLimit(self.volume_messages.value(), self.volume_minutes.value(), self.volume_action.currentData())
        return replace(self.policy, rules=tuple(rules), actions=actions, volume=volume).validate()

    def save(self) -> None:
        try:
            policy = self.policy_from_table()
        except SharedClientError as exc:
            show_error(self.error, exc.user_message)
            self.result.clear()
            return
        if self.w.save(replace(self.w.settings(), dlp=policy), self.error):
            show_error(self.error, "")
            self.policy = policy
            self.result.setText(self.tr("Saved: the rules apply to the next message you send."))
