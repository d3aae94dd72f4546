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
  rabbitmq-server           # private brokers for the AMQP outlet's tests (internal/amqpout/rabbittest)
  python3-pika              # the AMQP client fedora-messaging is built on
  python3-jsonschema        # the schemas in schemas/ checked by a second validator; fedora-messaging's header schema on what pika receives
  chromium fonts-dejavu-core  # the web view in a real browser (test/e2e TestWebBrowser, driven by chromedp)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # The tests start their own brokers; the package must not start the
  # system's (it would hold ports 5672, 25672 and 4369). policy-rc.d
  # answering 101 tells invoke-rc.d not to start services while we install.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # postfix asks for a configuration type; the tests run private instances.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# A system RabbitMQ started anyway (by systemd, or an install before this
# script) is stopped and kept from starting at boot: the tests run private
# brokers on their own ports and must find none of its.
if [ -d /run/systemd/system ]; then
  systemctl disable --now rabbitmq-server.service epmd.socket epmd.service >/dev/null 2>&1 || true
fi
if [ -x /etc/init.d/rabbitmq-server ]; then
  update-rc.d rabbitmq-server disable >/dev/null 2>&1 || true
  # (Not "status": rabbitmqctl would start the system's epmd on port 4369.)
  if [ -s /run/rabbitmq/pid ] && kill -0 "$(cat /run/rabbitmq/pid)" 2>/dev/null; then
    /etc/init.d/rabbitmq-server stop >/dev/null 2>&1 || true
    epmd -kill >/dev/null 2>&1 || true
  fi
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
