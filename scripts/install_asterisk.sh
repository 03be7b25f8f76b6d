#!/usr/bin/env bash
# Make the prebuilt Asterisk in ../shared/asterisk/ usable for development and tests:
# install its runtime Debian packages (RUNTIME-DEBS.txt) and SIPp when missing, and unpack
# the tarball into var/asterisk/. Idempotent and fast once done; a checkout without the
# shared folder is left alone (the Asterisk tests then need ASTERISK_PREFIX).
#
# Usage: install_asterisk.sh            (from the project root, as `make setup` does)
# Env:   ASTERISK_SHARED_DIR  folder with the tarball (default: ../shared/asterisk)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${ASTERISK_SHARED_DIR:-$ROOT/../shared/asterisk}
DEST=$ROOT/var/asterisk
say() { printf 'install_asterisk: %s\n' "$*"; }

tarball=$(compgen -G "$SHARED/asterisk-*.tar.xz" | head -n1 || true)
if [[ -z "$tarball" ]]; then
    say "no Asterisk tarball in $SHARED; skipped"
    exit 0
fi

as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
    else return 2; fi
}

# Runtime packages of the binary and its modules, plus sip-tester (SIPp) for the SIP tests.
missing=()
if [[ -f "$SHARED/RUNTIME-DEBS.txt" ]] && command -v dpkg >/dev/null 2>&1; then
    while read -r pkg; do
        [[ -z "$pkg" || "$pkg" == \#* ]] && continue
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done < "$SHARED/RUNTIME-DEBS.txt"
fi
command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
if ((${#missing[@]})); then
    say "missing Debian packages: ${missing[*]}"
    if command -v apt-get >/dev/null 2>&1 && as_root true; then
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get install -y --no-install-recommends "${missing[@]}" ||
            { as_root apt-get update && as_root apt-get install -y --no-install-recommends "${missing[@]}"; } ||
            say "WARNING: apt-get install ${missing[*]} failed"
    else
        say "not root and no password-less sudo; run: sudo apt-get install -y ${missing[*]}"
    fi
fi

# Unpack once per tarball (name and size recorded in a stamp).
stamp="$DEST/.unpacked"
want="$(basename "$tarball") $(stat -c %s "$tarball")"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && compgen -G "$DEST/asterisk-*/bin/asterisk" >/dev/null; then
    exit 0
fi
rm -rf "$DEST"
mkdir -p "$DEST"
# Python's tarfile, so xz-utils is not needed.
python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$tarball" "$DEST"
echo "$want" > "$stamp"
say "unpacked $(basename "$tarball") into $DEST"
