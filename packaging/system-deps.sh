#!/usr/bin/env bash
# Install the Debian/Ubuntu packages SharedClient needs for a purpose, idempotently.
#   packaging/system-deps.sh test   - test suite: Qt offscreen libs, Dovecot, Postfix, gnome-keyring, D-Bus,
#                                     and what the packaging tests use (binutils, appstream, desktop-file-utils)
#   packaging/system-deps.sh demo   - demo: Qt X11 libs and Dovecot
# As root it installs what is missing; otherwise it prints the exact sudo command and fails.
set -euo pipefail

purpose=${1:-test}
qt_offscreen="libegl1 libgl1 libglx0 libglvnd0 libfontconfig1 libfreetype6 libglib2.0-0 libxkbcommon0 libx11-6 libxcb1 libdbus-1-3 fonts-dejavu-core"
qt_x11="libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0"
python_pkgs="python3 python3-venv python3-pip"
mail_servers="dovecot-imapd dovecot-lmtpd"
# PyInstaller needs objdump (binutils); the desktop files are checked with appstreamcli and desktop-file-validate
packaging="binutils appstream desktop-file-utils"

case "$purpose" in
  test) wanted="$python_pkgs $qt_offscreen $mail_servers postfix gnome-keyring dbus $packaging" ;;
  demo) wanted="$python_pkgs $qt_offscreen $qt_x11 $mail_servers" ;;
  *) echo "usage: $0 test|demo" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "system-deps: not a Debian/Ubuntu system; install the equivalents of: $wanted" >&2
  exit 0
fi

missing=()
for pkg in $wanted; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "SharedClient needs these system packages first:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "system-deps: installing ${missing[*]}"
# Postfix must not configure or start the system-wide instance: the tests run their own.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
