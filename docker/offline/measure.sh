#!/usr/bin/env bash
# Runs scenarios against the compose topology (offline images) for several seeds and prints one
# line per run plus the wall time of `up` and `down`: the figures in BENCHMARKS.md ("Compose
# topology"). Needs a running Docker engine and the images (build-images.sh).
#   docker/offline/measure.sh "1 2 3" gc-pause partition clock-jump crash-restart crash-restart-safe
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds=$1
shift
project=fpmeasure$$
out=$(mktemp -d "${TMPDIR:-/tmp}/fencepost-measure.XXXXXX")
export FENCEPOST_ADMIN_PASSWORD=${FENCEPOST_ADMIN_PASSWORD:-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}
export FENCEPOST_CLIENT_PASSWORD=${FENCEPOST_CLIENT_PASSWORD:-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}
compose=(docker-compose -p "$project" -f docker/compose.yml -f docker/compose.offline.yml)
secs() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
down() {
    t=$EPOCHREALTIME
    "${compose[@]}" down -v -t 2 >/dev/null 2>&1
    echo "down: $(secs "$t") s"
}
trap down EXIT
t=$EPOCHREALTIME
# Every service but fencepost itself (which each run starts).
"${compose[@]}" up -d $("${compose[@]}" config --services | grep -vx fencepost) >/dev/null 2>&1
echo "up: $(secs "$t") s"
printf '%-20s %4s %6s %7s  %s\n' scenario seed exit wall_s "verdict (faults)"
for scenario in "$@"; do
    for seed in $seeds; do
        t=$EPOCHREALTIME
        code=0
        "${compose[@]}" run --rm -T -v "$out:/fencepost/out" fencepost scenario "$scenario" \
            --seed "$seed" --topology /fencepost/topology.toml --results /fencepost/out \
            >"$out/$scenario-$seed.txt" 2>&1 || code=$?
        verdict=$(grep -m1 '^# fencepost:' "$out/$scenario-$seed.txt" | sed 's/^# fencepost: [^ ]* — //')
        faults=$(grep -m1 '^- ops:' "$out/$scenario-$seed.txt" | grep -o '[0-9]* faults took effect ([0-9]* failed)' || true)
        printf '%-20s %4s %6s %7s  %s (%s)\n' "$scenario" "$seed" "$code" "$(secs "$t")" "$verdict" "$faults"
    done
done
echo "outputs: $out"
