#!/usr/bin/env bash
# install-node.sh — install darkwatch as a measurement node on a Debian/Ubuntu VPS (root).
#
# Usage: install-node.sh [BINARY]        (default: bin/darkwatch, built with make build)
#
# It creates the system user darkwatch (no shell, no home login), installs the binary
# as /usr/local/bin/darkwatch (mode 0750, group darkwatch: no other user may run it)
# with only CAP_NET_RAW (setcap cap_net_raw+ep), creates
# /etc/darkwatch (configuration, readable by the darkwatch group only) and
# /var/lib/darkwatch (the local store), and installs a hardened systemd unit,
# darkwatch.service, that runs `darkwatch run` with AmbientCapabilities=CAP_NET_RAW.
# It neither enables nor starts the unit: write /etc/darkwatch/darkwatch.yaml first
# (vantage, targets, collector: {url, user, password_file}), then
#   systemctl enable --now darkwatch
# For sweep mode (cron, one round per run, no daemon) see the cron example it writes
# to /etc/darkwatch/cron.example.
set -euo pipefail

BIN=${1:-bin/darkwatch}
UNIT=/etc/systemd/system/darkwatch.service

die() { echo "install-node.sh: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "must run as root (it creates a user, sets a capability, installs a unit)"
[ -x "$BIN" ] || die "$BIN is not an executable: run make build first, or name the binary"
command -v setcap >/dev/null 2>&1 || die "setcap not found: apt-get install libcap2-bin"

if ! id darkwatch >/dev/null 2>&1; then
	useradd --system --user-group --home-dir /var/lib/darkwatch --no-create-home \
		--shell /usr/sbin/nologin darkwatch
	echo "created system user darkwatch"
fi
install -d -m 0750 -o root -g darkwatch /etc/darkwatch
install -d -m 0750 -o darkwatch -g darkwatch /var/lib/darkwatch
# 0750 root:darkwatch: the binary carries cap_net_raw, so only root and the
# darkwatch group may run it; any other user could send raw packets with it.
install -m 0750 -o root -g darkwatch "$BIN" /usr/local/bin/darkwatch
# Raw sockets (ICMP, crafted TCP SYN, traces) and nothing else; the sweep mode
# from cron runs as the darkwatch user with this file capability.
setcap cap_net_raw+ep /usr/local/bin/darkwatch
echo "installed /usr/local/bin/darkwatch ($(/usr/local/bin/darkwatch version 2>/dev/null | head -1)) with cap_net_raw"

cat >"$UNIT" <<'UNIT'
[Unit]
Description=darkwatch measurement node: data-plane reachability rounds
Documentation=https://example.org/darkwatch
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=darkwatch
Group=darkwatch
ExecStart=/usr/local/bin/darkwatch run --config /etc/darkwatch/darkwatch.yaml
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM: stop sending, read the last replies, store every record, try the collector.
KillSignal=SIGTERM
TimeoutStopSec=60
Restart=on-failure
RestartSec=10s

# Raw sockets only; no other privilege, now or later.
AmbientCapabilities=CAP_NET_RAW
CapabilityBoundingSet=CAP_NET_RAW
NoNewPrivileges=yes

# The store and nothing else is written.
StateDirectory=darkwatch
StateDirectoryMode=0750
ReadWritePaths=/var/lib/darkwatch
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
UMask=0027

[Install]
WantedBy=multi-user.target
UNIT
echo "installed $UNIT (not enabled: systemctl enable --now darkwatch)"

cat >/etc/darkwatch/cron.example <<'CRON'
# Sweep mode instead of the daemon: one round every 11 minutes from cron, each run
# one command with an exit status; --lock makes an overlapping run refuse to start.
# Install with: cp /etc/darkwatch/cron.example /etc/cron.d/darkwatch
*/11 * * * * darkwatch /usr/local/bin/darkwatch sweep --config /etc/darkwatch/darkwatch.yaml --lock /var/lib/darkwatch/sweep.lock >>/var/lib/darkwatch/sweep.log 2>&1
CRON
chmod 0640 /etc/darkwatch/cron.example
chgrp darkwatch /etc/darkwatch/cron.example

if [ ! -e /etc/darkwatch/darkwatch.yaml ]; then
	echo "next: write /etc/darkwatch/darkwatch.yaml (see configs/darkwatch.example.yaml and the README section"
	echo "      \"Three nodes and a collector\"), put the collector password in /etc/darkwatch/nats.pass"
	echo "      (owner darkwatch, chmod 0600: darkwatch refuses a secret file its group or others may read),"
	echo "      then: systemctl enable --now darkwatch"
fi
systemctl daemon-reload 2>/dev/null || true
