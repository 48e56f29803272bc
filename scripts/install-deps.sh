#!/usr/bin/env bash
# Installs what fencepost's tests and every feature need, from Debian's packages, and only what is
# missing: a machine whose Node (or Python, or Chromium) came from elsewhere keeps it (Debian's
# `npm` package conflicts with a Node that is not Debian's `nodejs`: with `node` and `npm` on
# PATH neither is installed). `.ci/run` runs this, then the README's test command.
#   usage: sudo scripts/install-deps.sh     (as root, or with sudo on PATH)
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
need=()
# every run: the nodes; Sentinel scenarios: the Sentinels
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-sentinel >/dev/null || need+=(redis-sentinel)
# report tests: headless Chromium opens the run pages; xmllint validates the suite's JUnit XML
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)
command -v xmllint >/dev/null || need+=(libxml2-utils)
# the compose topology: a Docker engine (the test starts dockerd when none runs; images are built
# locally from these packages' files, no pull) and docker-compose
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
# Redis Cluster runs: a network namespace per node (ip) and partitions as packet-filter rules (nft)
command -v ip >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)
# the tests act as another user (nobody) through setpriv
command -v setpriv >/dev/null || need+=(util-linux)
# lock-library adapters: Python ones in venvs, Node ones with npm (installed per adapter into a
# cache folder on first use, never globally)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# PHP lock-library adapters: PHP, phpredis and the libraries themselves are Debian's packages
# (Packagist is not reachable from CI): checked, not installed, by fencepost
for p in php-cli php-redis php-symfony-lock php-illuminate-cache php-illuminate-redis; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$' || need+=("$p")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "install-deps: nothing missing"
  exit 0
fi
$SUDO apt-get update -qq
# A package this system's archive lacks (Ubuntu 24.04 has no php-illuminate-cache or
# php-illuminate-redis): install the rest, then say which and fail, rather than let apt-get
# refuse the whole line or let the tests that need it find out later.
have=() lacking=()
for p in "${need[@]}"; do
  if apt-cache show "$p" >/dev/null 2>&1; then have+=("$p"); else lacking+=("$p"); fi
done
if [ ${#have[@]} -gt 0 ]; then
  echo "install-deps: installing ${have[*]}"
  $SUDO apt-get install -y -qq "${have[@]}"
fi
if [ ${#lacking[@]} -gt 0 ]; then
  echo "install-deps: this system's package archive has no ${lacking[*]}: the PHP lock adapters (laravel-lock, symfony-lock, symfony-lock-combined) and their tests need Debian 12's packages (run them on Debian, or in a debian:bookworm container)" >&2
  exit 1
fi
