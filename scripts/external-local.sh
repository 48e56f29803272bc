#!/usr/bin/env bash
# External mode on one machine: starts two redis-servers (a lock node and the resource node, ACL
# users, 127.0.0.1 only) and a standalone `fencepost proxy` as the Toxiproxy server, writes a
# topology file, then runs the given scenarios over the given seeds with --topology, so that
# fencepost starts no Redis and creates every proxy and toxic through the HTTP API.
#   usage: scripts/external-local.sh [FENCEPOST_BINARY] [SEEDS] [SCENARIO...]
#   e.g.   scripts/external-local.sh target/release/fencepost "1 2 3" partition network-delay
set -u
bin=$(realpath "${1:-target/release/fencepost}")
seeds=${2:-"1 2 3"}
shift 2 2>/dev/null || shift $#
scenarios=("${@:-partition network-delay}")
[ ${#scenarios[@]} -eq 1 ] && read -r -a scenarios <<< "${scenarios[0]}"
work=$(mktemp -d /tmp/fencepost-external.XXXXXX)
export FENCEPOST_ADMIN_USER=fencepost-admin FENCEPOST_CLIENT_USER=fencepost-client
export FENCEPOST_ADMIN_PASSWORD=$(head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export FENCEPOST_CLIENT_PASSWORD=$(head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n')
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A port
for node in n1 resource; do
  port[$node]=$(free_port)
  mkdir -p "$work/$node"
  redis-server --bind 127.0.0.1 --port "${port[$node]}" --dir "$work/$node" --save '' --appendonly no \
    --user default off \
    --user "$FENCEPOST_ADMIN_USER" on ">$FENCEPOST_ADMIN_PASSWORD" '~*' '&*' '+@all' \
    --user "$FENCEPOST_CLIENT_USER" on ">$FENCEPOST_CLIENT_PASSWORD" '~fencepost:*' resetchannels '&fencepost:*' -@all \
      +ping +auth +hello '+client|setname' +select +eval +evalsha '+script|load' '+script|exists' \
      +get +set +del +incr +incrby +rpush +lrange +time +expire +pexpire +pttl +zadd +zremrangebyscore +zcard +wait \
      +publish +subscribe +unsubscribe +xadd '+xgroup|create' +xreadgroup +xack +xautoclaim \
    --logfile "$work/$node/redis.log" &
  pids+=($!)
done
api=$(free_port)
"$bin" proxy --listen "127.0.0.1:$api" --seed 7 2>"$work/proxy.log" &
pids+=($!)
sleep 1
cat > "$work/topology.toml" <<TOML
toxiproxy = "http://127.0.0.1:$api"
[[lock_nodes]]
name = "n1"
address = "127.0.0.1:${port[n1]}"
[resource]
name = "resource"
address = "127.0.0.1:${port[resource]}"
TOML
fails=0
for s in "${scenarios[@]}"; do
  for seed in $seeds; do
    out=$("$bin" scenario "$s" --seed "$seed" --topology "$work/topology.toml" --results "$work/results" 2>&1)
    code=$?
    [ $code -eq 0 ] || fails=$((fails + 1))
    echo "$s seed $seed: exit $code — $(echo "$out" | grep -m1 '^# fencepost')"
  done
done
echo "proxies left on the Toxiproxy server: $(curl -s "http://127.0.0.1:$api/proxies" 2>/dev/null || echo '?')"
[ $fails -eq 0 ]
