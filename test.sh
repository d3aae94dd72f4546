#!/usr/bin/env bash
# The whole test suite: formatting, vet, staticcheck, then every Go test —
# unit tests, golden files, fuzz seed corpora, and, behind the e2e build
# tag, the tests that drive real programs or need root: the end-to-end
# tests in test/e2e (real postfix, swaks, gpg, python3-zmq) and the interop
# tests beside the code. vet and staticcheck look at the build with and
# without the tag (without it, go test ./... needs nothing but Go).
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
go vet -tags e2e ./...
staticcheck ./...
staticcheck -tags e2e ./...
go test -tags e2e -count=1 -timeout 40m "$@" ./...
