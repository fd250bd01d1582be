#!/usr/bin/env bash
# Copy the desktop integration files into an XDG "share" tree:
#   packaging/install-desktop-files.sh dist/sharedclient/share     (make package does this)
#   packaging/install-desktop-files.sh ~/.local/share              (after `pipx install .`)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
share=${1:?usage: $0 SHARE_DIR}
install -Dm644 "$here/resources/sharedclient.desktop" "$share/applications/sharedclient.desktop"
install -Dm644 "$here/resources/io.github.sharedclient.SharedClient.metainfo.xml" \
  "$share/metainfo/io.github.sharedclient.SharedClient.metainfo.xml"
install -Dm644 "$here/resources/icons/sharedclient.svg" "$share/icons/hicolor/scalable/apps/sharedclient.svg"
for size in 16 32 48 64 128 256; do
  install -Dm644 "$here/resources/icons/sharedclient-$size.png" "$share/icons/hicolor/${size}x${size}/apps/sharedclient.png"
done
