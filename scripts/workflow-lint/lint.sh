#!/usr/bin/env bash
# Validates GitHub Actions workflow files (all of .github/workflows/ by default) against the
# workflow schema with action-validator, from npm, pinned by this folder's package-lock.json and
# installed once into the cache folder (never globally). Exit 0 when every file validates.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
command -v npm >/dev/null || { echo "workflow-lint: npm is needed (apt-get install npm)" >&2; exit 2; }
digest="$(sha256sum "$here/package-lock.json" | cut -c1-12)"
env="${FENCEPOST_CACHE:-$HOME/.cache/fencepost}/workflow-lint-$digest"
if [ ! -x "$env/node_modules/.bin/action-validator" ]; then
  echo "workflow-lint: installing action-validator into $env (once)" >&2
  rm -rf "$env.tmp" && mkdir -p "$env.tmp"
  cp "$here/package.json" "$here/package-lock.json" "$env.tmp/"
  (cd "$env.tmp" && npm ci --silent --no-audit --no-fund)
  rm -rf "$env" && mv "$env.tmp" "$env"
fi
if [ $# -eq 0 ]; then set -- "$repo"/.github/workflows/*.yml; fi
status=0
for f in "$@"; do
  if "$env/node_modules/.bin/action-validator" "$f" >/dev/null 2>"$env/last-error"; then
    echo "workflow-lint: $f validates"
  else
    echo "workflow-lint: $f does NOT validate:" >&2
    "$env/node_modules/.bin/action-validator" "$f" >&2 || true
    status=1
  fi
done
exit $status
