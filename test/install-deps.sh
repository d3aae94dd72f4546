#!/usr/bin/env bash
# Installs the real programs the test suite drives (Debian packages) and the
# Go tools it runs. Idempotent; needs root (apt-get). Used by .ci/run and
# named in the README.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

pkgs=(
  python3 python3-zmq       # real libzmq subscriber/publisher (pyzmq on libzmq 4.3)
  gnupg                     # gpg --verify / --detach-sign interop
  postfix                   # real MTA: pipe(8), SMTP and LMTP relay; smtp-source
  swaks                     # real SMTP client
  xz-utils bzip2 gzip       # compressed archives for replay tests
  python3-debian            # the Python reference in bench/
  procps time               # ps, /usr/bin/time for RSS measurements
  procmail                  # the procmailrc example is exercised by test/e2e
  groff-base                # groff checks the generated man pages (cmd/mailgw)
  bash-completion           # the generated bash completion is run in real bash
  dpkg-dev debhelper        # test/deb builds the .deb (dpkg-buildpackage, dh)
  lintian                   # … checks it with lintian
  systemd                   # systemd-analyze security (unit hardening), systemd-sysusers (postinst)
  debian-keyring            # upload signatures checked against Debian's real keyring (parsers/dak)
  python3-jsonschema        # the schemas in schemas/ checked by a second validator
  chromium fonts-dejavu-core  # the web view in a real browser (test/e2e TestWebBrowser, driven by chromedp)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # postfix asks for a configuration type; the tests run private instances.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# exim4 cannot be installed beside postfix (each is the system's MTA), so
# the exim example (etc/mta/exim4.conf) is run by test/e2e with exim's
# binary unpacked from Debian's package into /opt/mailgw-test/exim.
exim_root=/opt/mailgw-test/exim
if [ ! -x "$exim_root/usr/sbin/exim4" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download exim4-daemon-light libidn12 2>/dev/null) || {
    apt-get update -qq
    (cd "$tmp" && apt-get download exim4-daemon-light libidn12)
  }
  mkdir -p "$exim_root"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$exim_root"; done
  rm -rf "$tmp"
fi
# exim looks up its compiled-in user at start.
id Debian-exim >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent Debian-exim

go mod download
command -v staticcheck >/dev/null || go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
