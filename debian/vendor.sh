#!/bin/sh
# Vendors the Go modules the build needs into vendor/ (from the module
# cache, or the module proxy when they are not cached), so that
# dpkg-buildpackage builds offline. Run it in the source tree first:
#   debian/vendor.sh && dpkg-buildpackage -us -uc -b
# vendor/ is not committed (.gitignore); debian/copyright names the
# licence of every module it holds (test/deb checks that it does).
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
GOFLAGS=-mod=mod go mod vendor
GOFLAGS=-mod=vendor go list -deps ./cmd/mailgw >/dev/null
echo "vendor/: $(grep -c '^# ' vendor/modules.txt) modules"
