#!/usr/bin/env bash
# Installs the Debian packages the tests need beyond PyPI: pango for WeasyPrint (PDF
# packs), poppler-utils for PDF text checks, fonts (DejaVu, and WenQuanYi Micro Hei for the
# Chinese text carriers send), chromium for the rendering test, and dovecot-imapd (a real
# IMAP server the import-mail tests start on loopback) with openssl for its test certificates.
# As root it installs what is missing; otherwise it says exactly what to install.
set -euo pipefail
packages=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-wqy-microhei poppler-utils chromium dovecot-imapd openssl)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing system packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
