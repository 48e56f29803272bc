#!/bin/bash
# A long run with fencepost's memory sampled every 10 s (issue 18's soak):
#   scripts/soak/soak.sh [SCENARIO] [DURATION] [OUT]     e.g. scripts/soak/soak.sh gc-pause 1h /tmp/soak
# Writes OUT/rss.tsv (seconds since start, RSS in KB), OUT/rss.svg (the plot), OUT/run.log (the
# run's output, with the time the run and its report took) and the run folder under OUT/results.
# Uses target/release/fencepost (build it first: cargo build --release).
set -euo pipefail
scenario=${1:-gc-pause}
duration=${2:-1h}
out=${3:-/tmp/fencepost-soak}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$root/target/release/fencepost"
[ -x "$bin" ] || { echo "soak.sh: $bin is missing: run cargo build --release first" >&2; exit 2; }
mkdir -p "$out"
cd "$root"
start=$(date +%s.%N)
/usr/bin/time -f "fencepost: %e s wall, peak RSS %M KB" "$bin" scenario "$scenario" --duration "$duration" \
  --results "$out/results" > "$out/run.log" 2>&1 &
timer=$!
# the fencepost process under /usr/bin/time
sleep 1
pid=$(pgrep -P "$timer" -f "scenario $scenario" | head -1)
printf 't_s\trss_kb\n' > "$out/rss.tsv"
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [ -n "$rss" ] && printf '%.0f\t%s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$rss" >> "$out/rss.tsv"
  sleep 10
done
wait "$timer" || true
python3 "$here/plot_rss.py" "$out/rss.tsv" "$out/rss.svg" "fencepost scenario $scenario --duration $duration"
tail -1 "$out/run.log"
