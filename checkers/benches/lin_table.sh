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
echo "| ops | clients | history | verdict (exit) | wall | max RSS |"
echo "|---|---|---|---|---|---|"
for n in ${sizes//,/ }; do
  for c in ${clients//,/ }; do
    for kind in good bad; do
      f="$dir/lock-$n-$c-$kind.jsonl"
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
      printf "| %s | %s | %s | %s (%s) | %.2f s | %d MB |\n" "$n" "$c" "$kind" "$v" "$code" "$wall" "$((rss / 1024))"
    done
  done
done
