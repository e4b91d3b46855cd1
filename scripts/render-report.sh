#!/usr/bin/env bash
# Renders the printable indicator report (format=html) in a real browser: headless Chromium
# from Debian takes a PNG of the page the release binary serves, so a person can look at it.
#
#   scripts/render-report.sh                 # PNGs in target/render-report/
#   OUT=/tmp/pages AS_OF=2026-06-30 RESIDENTS=3000 scripts/render-report.sh
#
# It installs Debian's chromium and a Chinese font when they are missing (apt-get, as root),
# builds the release binary, starts it on a free port with a fresh temporary DATA_DIR (embedded
# SQLite), creates an admin, fills in a small synthetic district (`seed-demo`), fetches the
# district's report, one town's report and a snapshot's page as HTML, and screenshots each.
# The server is stopped whatever happens. The PNGs are for looking at, not for committing.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT="${OUT:-target/render-report}"
AS_OF="${AS_OF:-2026-06-30}"
RESIDENTS="${RESIDENTS:-3000}"
TOWN="${TOWN:-330213100}"
WIDTH="${WIDTH:-1240}"
BINARY="${BINARY:-target/release/fenghua-registry}"

say() { printf '%s\n' "$*" >&2; }

# ---- the browser and a font with Chinese glyphs --------------------------------------------
need_packages=()
command -v chromium >/dev/null 2>&1 || need_packages+=(chromium)
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh 2>/dev/null | head -n 1)" ]; then
    need_packages+=(fonts-noto-cjk fontconfig)
fi
if [ "${#need_packages[@]}" -gt 0 ]; then
    say "installing ${need_packages[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}" >/dev/null
fi

# ---- the service -------------------------------------------------------------------------------
if [ -z "${SKIP_BUILD:-}" ]; then
    say "building the release binary"
    cargo build --release --quiet
fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d)"
PROFILE="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK" "$PROFILE"
}
trap cleanup EXIT

export DATA_DIR="$WORK/data"
export DATABASE_URL="sqlite://$WORK/data/registry.db"
export LOG_LEVEL=warn
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
PASSWORD="render-$(date +%s)-Report-Pass!"

printf '%s\n' "$PASSWORD" | "$BINARY" create-admin --username admin --password-stdin >/dev/null
say "seeding $RESIDENTS synthetic residents"
"$BINARY" seed-demo --residents "$RESIDENTS" >/dev/null

BIND="127.0.0.1:$PORT" "$BINARY" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$BASE/readyz" >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }

TOKEN="$(curl -fsS -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" "$BASE/api/v1/auth/login" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
get() { curl -fsS -H "Authorization: Bearer $TOKEN" "$@"; }

get -o "$OUT/report.html" "$BASE/api/v1/indicators?as_of=$AS_OF&format=html"
get -o "$OUT/town.html" -H 'Accept: text/html' "$BASE/api/v1/indicators?as_of=$AS_OF&area=$TOWN"
SNAPSHOT="$(curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"as_of\":\"$AS_OF\"}" "$BASE/api/v1/reports" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
get -o "$OUT/snapshot.html" "$BASE/api/v1/reports/$SNAPSHOT?format=html"

# ---- the pictures ------------------------------------------------------------------------------
shoot() { # page.html height
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run \
        --user-data-dir="$PROFILE" --hide-scrollbars \
        --window-size="$WIDTH,$2" --screenshot="$OUT/${1%.html}.png" \
        "file://$OUT/$1" >/dev/null 2>&1
    say "wrote $OUT/${1%.html}.png"
}
shoot report.html 2300
shoot town.html 1250
shoot snapshot.html 1400
