#!/usr/bin/env bash
# The whole test suite: formatting, vet, staticcheck, then every Go test —
# unit tests, golden files, fuzz seed corpora, and the end-to-end tests in
# test/e2e that drive real postfix, swaks, gpg and python3-zmq.
# Run test/install-deps.sh once first on a fresh machine (.ci/run does).
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
staticcheck ./...
go test -count=1 -timeout 40m "$@" ./...
