#!/usr/bin/env bash
# Interrupts fencepost runs at random moments and checks that nothing is left behind:
# 10 with SIGINT, 5 with SIGTERM, 5 with SIGKILL (counts overridable). After each: no process
# of the run alive (checked by the PIDs in nodes.json, never by name), and `fencepost check`
# reads the history (exit 0, 1 or 3 — 3: an interrupted run with no violation found proves
# nothing — never 2).
#   usage: scripts/interrupt-soak.sh [FENCEPOST_BINARY] [INT] [TERM] [KILL]
# FENCEPOST_SOAK_ARGS adds arguments to every run, e.g. "--client redis-py" (client processes:
# their PIDs, in the run's clients/pids, are checked too). Each line and the summary say how
# many processes were checked, so that "none left" is not said of runs that started none.
set -u
bin=${1:-target/release/fencepost}
n_int=${2:-10}; n_term=${3:-5}; n_kill=${4:-5}
results=$(mktemp -d /tmp/fencepost-soak.XXXXXX)
left=0; unreadable=0; runs=0; checked=0
seed=0
one() {
  local sig=$1
  seed=$((seed + 1)); runs=$((runs + 1))
  # shellcheck disable=SC2086
  "$bin" scenario gc-pause --seed "$seed" --results "$results" ${FENCEPOST_SOAK_ARGS:-} >/dev/null 2>&1 &
  local pid=$!
  # A random moment: 0.3 .. 6 s into the run (start-up included; FENCEPOST_SOAK_MIN_MS moves
  # the earliest).
  local min_ms=${FENCEPOST_SOAK_MIN_MS:-300}
  local delay_ms=$(( min_ms + RANDOM % (6000 - min_ms) ))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  local dir
  dir=$(ls -td "$results"/gc-pause/*/ 2>/dev/null | head -1)
  kill -s "$sig" "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  local code=$?
  sleep 0.3
  local alive_pids="" pids=0
  if [ -n "$dir" ] && [ -f "$dir/nodes.json" ]; then
    for p in $(grep -o '"pid": *[0-9]*' "$dir/nodes.json" | grep -o '[0-9]*$') $(cat "$dir/clients/pids" 2>/dev/null); do
      pids=$((pids + 1)); checked=$((checked + 1))
      if [ -e "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then alive_pids="$alive_pids $p"; fi
    done
  fi
  [ -n "$alive_pids" ] && left=$((left + 1))
  local check="-"
  if [ -n "$dir" ] && [ -f "$dir/history.jsonl" ]; then
    "$bin" check "$dir" >/dev/null 2>&1; check=$?
    case $check in 0|1|3) ;; *) unreadable=$((unreadable + 1));; esac
  fi
  printf '%-7s at %5d ms: exit %3s, check exit %s, %2d processes checked, left:%s\n' "$sig" "$delay_ms" "$code" "$check" "$pids" "${alive_pids:- none}"
}
for _ in $(seq "$n_int"); do one INT; done
for _ in $(seq "$n_term"); do one TERM; done
for _ in $(seq "$n_kill"); do one KILL; done
echo "runs: $runs, processes checked: $checked, runs that left a process: $left, histories unreadable by fencepost check: $unreadable"
rm -rf "$results"
[ "$left" -eq 0 ] && [ "$unreadable" -eq 0 ]
