#!/usr/bin/env bash
# install-deps.sh — install, with apt-get, the Debian packages the lab, the demo and
# the tests use (root). Installs only what is missing; prints what it installs.
set -euo pipefail
# gcc and libc6-dev: the race detector (make test-race) needs cgo.
packages=(gcc libc6-dev iproute2 nftables nsd socat dnsutils iputils-ping traceroute nmap tcpdump util-linux procps make git chromium postgresql nats-server bgpdump bird2 prometheus-alertmanager prometheus)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
[ "$(id -u)" = 0 ] || { echo "install-deps.sh: missing ${missing[*]}; run as root to install them" >&2; exit 2; }
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's nsd package starts a system nsd; the lab runs its own inside a namespace.
systemctl disable --now nsd >/dev/null 2>&1 || true
# Likewise its postgresql starts a cluster on port 5432; the store's tests start a
# throwaway server of their own (results/store/postgres_test.go).
systemctl disable --now postgresql >/dev/null 2>&1 || true
# And its nats-server starts a system server on port 4222; the collector tests start
# their own (cmd/darkwatch/lab_collector_test.go).
systemctl disable --now nats-server >/dev/null 2>&1 || true
# And its bird2 starts a system BIRD; the lab runs its own in the border namespace
# (scripts/lab.sh), with its own configuration and control socket.
systemctl disable --now bird >/dev/null 2>&1 || true
# prometheus-alertmanager and prometheus (for promtool) start a system Alertmanager
# on :9093 and a Prometheus on :9090; the alert tests start their own Alertmanager on
# 127.0.0.1 (results/alert, cmd/darkwatch/lab_alerts_test.go).
systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
systemctl disable --now prometheus >/dev/null 2>&1 || true
