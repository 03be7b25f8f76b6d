#!/usr/bin/env bash
# Install the Debian packages robocall needs.
#
# apt is skipped entirely when every needed command is already present, so this
# is fast on a prepared machine. When not root (and no password-less sudo), it
# only prints what is missing and how to install it, and exits 0.
#
# Usage: install_system_packages.sh [--stamp FILE] [--only COMMAND...]
#   --stamp FILE   touch FILE once everything is present (used by make)
#   --only CMD...  check/install only the packages providing these commands
set -euo pipefail

# command -> Debian package providing it
declare -A PACKAGE_FOR=(
    [redis-server]=redis-server
    [espeak-ng]=espeak-ng
    [sox]=sox
    [dot]=graphviz
    [chromium]=chromium
    [chromedriver]=chromium-driver
)

say() { printf 'install_system_packages: %s\n' "$*"; }

postgres_server_installed() {
    command -v pg_ctlcluster >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

postgres_answers() {
    timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5432' 2>/dev/null
}

# PostgreSQL is only needed when psql or a server is missing, and not at all
# when something (e.g. a container) already serves 127.0.0.1:5432.
postgres_needed() {
    postgres_answers && return 1
    ! command -v psql >/dev/null 2>&1 || ! postgres_server_installed
}

# Debian's own python3 ships without ensurepip; `python3 -m venv` then fails.
venv_support_needed() {
    [[ "$(command -v python3 || true)" == /usr/bin/python3 ]] &&
        ! /usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1
}

# sox reads gTTS's MP3 and writes Twilio's MP3 only with this format library.
sox_mp3_needed() {
    ! { command -v sox >/dev/null 2>&1 && sox -h 2>/dev/null | grep -q '^AUDIO FILE FORMATS:.* mp3'; }
}

# Prints the Debian packages that are missing, one per line.
missing_packages() {
    local cmd
    for cmd in "${COMMANDS[@]}"; do
        command -v "$cmd" >/dev/null 2>&1 || echo "${PACKAGE_FOR[$cmd]}"
    done
    if ((CHECK_EXTRAS)); then
        if postgres_needed; then echo postgresql; fi
        if venv_support_needed; then echo python3-venv; fi
        if sox_mp3_needed; then echo libsox-fmt-mp3; fi
    fi
}

# Runs a command as root: directly, via password-less sudo, or not at all (exit 2).
as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo "$@"
    else
        return 2
    fi
}

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    # Fresh containers often have empty package lists; update first then.
    if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
        as_root apt-get update
    fi
    as_root apt-get install -y --no-install-recommends "$@" ||
        { as_root apt-get update && as_root apt-get install -y --no-install-recommends "$@"; }
}

STAMP=""
COMMANDS=("${!PACKAGE_FOR[@]}")
CHECK_EXTRAS=1
while (($#)); do
    case "$1" in
        --stamp) STAMP="$2"; shift 2 ;;
        --only) shift; COMMANDS=("$@"); CHECK_EXTRAS=0; break ;;
        *) say "unknown argument: $1" >&2; exit 64 ;;
    esac
done

mapfile -t missing < <(missing_packages)
if ((${#missing[@]} == 0)); then
    [[ -n "$STAMP" ]] && mkdir -p "$(dirname "$STAMP")" && touch "$STAMP"
    exit 0
fi

say "missing Debian packages: ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
    say "apt-get not found; please install the equivalents of: ${missing[*]}"
    exit 0
fi
if ! as_root true; then
    say "not root and no password-less sudo; to install them run:"
    say "  sudo apt-get install -y ${missing[*]}"
    exit 0
fi

apt_install "${missing[@]}" || { say "ERROR: apt-get install ${missing[*]} failed" >&2; exit 1; }

mapfile -t still_missing < <(missing_packages)
if ((${#still_missing[@]})); then
    say "WARNING: still missing after install: ${still_missing[*]}" >&2
    exit 0
fi
[[ -n "$STAMP" ]] && mkdir -p "$(dirname "$STAMP")" && touch "$STAMP"
say "installed: ${missing[*]}"
