#!/usr/bin/env bash
# The producer's drawing rate, an older tree against this one, interleaved:
#   scripts/producer_ab.sh [OLD_REV] [SIZE]
# OLD_REV defaults to 831dc8a^1, the last tree that served with TensorFlow.
# Each round fills a new SQLite pool to SIZE (512) with captcha_fill_pool in
# each tree and prints the command's own "drew N new in T s (R/s)" line
# (start-up excluded) and the process's wall time (start-up included).
set -euo pipefail
cd "$(dirname "$0")/.."
OLD_REV=${1:-831dc8a^1}
SIZE=${2:-512}
PY=${PY:-$PWD/.venv/bin/python}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/old" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add -q --detach "$tmp/old" "$OLD_REV"
for round in 1 2; do
  for tree in "$tmp/old" "$PWD"; do
    label=$([ "$tree" = "$PWD" ] && echo "this tree" || echo "$OLD_REV")
    db="$tmp/pool-$round-$RANDOM.sqlite3"
    printf 'from demo_site.settings import *  # noqa: F403\nDATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "%s"}}\n' "$db" > "$tree/producer_ab_settings.py"
    (cd "$tree" && DJANGO_SETTINGS_MODULE=producer_ab_settings "$PY" manage.py migrate -v 0 >/dev/null 2>&1)
    start=$(date +%s.%N)
    line=$(cd "$tree" && DJANGO_SETTINGS_MODULE=producer_ab_settings "$PY" manage.py captcha_fill_pool --size "$SIZE" 2>/dev/null | tail -1)
    end=$(date +%s.%N)
    rm -f "$tree/producer_ab_settings.py"
    printf '%s, round %s: %s [process %.1f s]\n' "$label" "$round" "$line" "$(echo "$end - $start" | bc)"
  done
done
