#!/usr/bin/env bash
# Takes the pictures in screenshots/ from a real terminal session: the real
# confpack binary runs in tmux (100x30, 256 colours, UTF-8), keys are sent
# as a person would type them, each screen is captured with its colours
# (capture-pane -e) and rendered to PNG by scripts/ansi2png.py.
#
# Installs what it needs: tmux and DejaVu fonts (Debian), Pillow (PyPI).
#
#   scripts/screenshots.sh [OUTDIR]     (default: screenshots/)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$repo/screenshots}"
cols=100
rows=30

need_apt=()
command -v tmux >/dev/null || need_apt+=(tmux)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || need_apt+=(fonts-dejavu-core)
if [ ${#need_apt[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet pillow

cargo build --quiet --manifest-path "$repo/Cargo.toml"
bin="$repo/target/debug/confpack"
work="$(mktemp -d)"
socket="confpack-screenshots-$$"
trap 'tmux -L "$socket" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$out"

tm() { tmux -L "$socket" -f /dev/null "$@"; }

# Starts confpack with ARGS in a fresh tmux window.
start() {
    tm kill-server 2>/dev/null || true
    TERM=xterm-256color LANG=C.UTF-8 tm new-session -d -x "$cols" -y "$rows" \
        "$bin --root $work/root $*; sleep 60"
}

# Waits until the screen shows TEXT.
wait_for() {
    for _ in $(seq 1 250); do
        tm capture-pane -p | grep -qF -- "$1" && return 0
        sleep 0.02
    done
    echo "timed out waiting for: $1" >&2
    tm capture-pane -p >&2
    return 1
}

keys() { tm send-keys "$@"; sleep 0.15; }
typed() { tm send-keys -l "$1"; sleep 0.15; }

# Captures the screen with colours and the cursor into OUT/NAME.png.
shot() {
    local name="$1" cursor=""
    tm capture-pane -e -p >"$work/$name.ans"
    if [ "$(tm display -p '#{cursor_flag}')" = 1 ]; then
        cursor="--cursor $(tm display -p '#{cursor_x},#{cursor_y}')"
    fi
    # shellcheck disable=SC2086
    python3 "$repo/scripts/ansi2png.py" "$work/$name.ans" "$out/$name.png" \
        --cols "$cols" --rows "$rows" $cursor
    echo "$out/$name.png"
}

configure="configure --env-file $repo/sample-env.xml --machine 10.10.0.21 --frontend tui"

# A conflict: the user set the database host earlier, the document differs.
mkdir -p "$work/root"
"$bin" --root "$work/root" set webshop/db.host mydb.internal

start "$configure"
wait_for "question 1 of 4"
keys Enter
wait_for "Document says:"
shot conflict
keys C-d Enter
wait_for "Database password"
typed "correct horse"
keys Enter
typed "correct h"
shot password
typed "orse"
keys Enter Enter
wait_for "Save these answers"
shot review
keys C-c
wait_for "Quit without saving?"
shot quit
keys y

# Every question again (like dpkg-reconfigure): a select with a search,
# and a multiselect.
"$bin" --root "$work/root" set webshop/db.password secret --secret
start "reconfigure --env-file $repo/sample-env.xml --machine 10.10.0.21 --frontend tui"
wait_for "question 1 of 23"
keys Enter Enter
wait_for "Role of this machine"
typed "d"
shot select
keys Escape
for _ in 1 2 3 4 5 6; do keys Enter; done
wait_for "Optional features"
keys Down Space Down
shot multiselect
