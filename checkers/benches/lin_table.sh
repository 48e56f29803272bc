#!/usr/bin/env bash
# Whole-process figures for the linearizability checker: wall time and max RSS of one
# `fencepost check --model lock FILE` per history, N ∈ {1k,10k,100k} × C ∈ {5,20,100} × good/bad.
#
#   bash checkers/benches/lin_table.sh [DIR] [CHECKER...]
#
# DIR (default /tmp/fencepost-lin) receives the generated histories. CHECKER defaults to
# `target/release/fencepost check`; pass e.g. `target/release/examples/lin_check` to time the
# library without the harness binary. Prints a markdown table; exit codes 0 = linearizable,
# 1 = not, 3 = unknown.
#
# Smaller tables: FENCEPOST_LIN_SIZES=1k FENCEPOST_LIN_CLIENTS=5 (comma lists). Prebuilt
# examples: FENCEPOST_LIN_EXAMPLES=DIR (holding lin_gen and lin_check) skips the release build.
# FENCEPOST_LIN_GOING=2,10,20 times the going-on histories instead (clients that go on after a
# lost reply, release blindly and think long; sizes from 10k, 1m when named), one row per
# info percent.
set -euo pipefail
dir=${1:-/tmp/fencepost-lin}
shift || true
checker=("$@")
if [ ${#checker[@]} -eq 0 ]; then checker=(target/release/fencepost check); fi
examples=${FENCEPOST_LIN_EXAMPLES:-}
if [ -z "$examples" ]; then
  cargo build --release -p checkers --example lin_gen --example lin_check >/dev/null 2>&1
  examples=target/release/examples
fi
sizes=${FENCEPOST_LIN_SIZES:-1k,10k,100k}
clients=${FENCEPOST_LIN_CLIENTS:-5,20,100}
export FENCEPOST_LIN_SIZES=$sizes FENCEPOST_LIN_CLIENTS=$clients
"$examples/lin_gen" "$dir" >/dev/null
going=${FENCEPOST_LIN_GOING:-}
if [ -n "$going" ]; then
  echo "| ops | clients | info | history | verdict (exit) | wall | max RSS |"
  echo "|---|---|---|---|---|---|---|"
  shapes=${going//,/ }
else
  echo "| ops | clients | history | verdict (exit) | wall | max RSS |"
  echo "|---|---|---|---|---|---|"
  shapes=plain
fi
for n in ${sizes//,/ }; do
  for c in ${clients//,/ }; do
    for shape in $shapes; do
    for kind in good bad; do
      if [ "$shape" = plain ]; then
        f="$dir/lock-$n-$c-$kind.jsonl"
        row="| $n | $c | $kind"
      else
        f="$dir/lock-going$shape-$n-$c-$kind.jsonl"
        [ -f "$f" ] || continue
        row="| $n | $c | $shape % | $kind"
      fi
      if [ "$(basename "${checker[0]}")" = lin_check ]; then
        args=("${checker[@]}" lock "$f")
      else
        args=("${checker[@]}" --model lock "$f")
      fi
      set +e
      /usr/bin/time -f "%e %M" -o /tmp/lin_table.time "${args[@]}" >/tmp/lin_table.out 2>&1
      code=$?
      set -e
      read -r wall rss < <(tail -n 1 /tmp/lin_table.time)
      case $code in 0) v="ok";; 1) v="illegal";; 3) v="unknown";; *) v="error";; esac
      printf "%s | %s (%s) | %.2f s | %d MB |\n" "$row" "$v" "$code" "$wall" "$((rss / 1024))"
    done
    done
  done
done
