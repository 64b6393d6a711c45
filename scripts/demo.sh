#!/usr/bin/env bash
# demo.sh — start the lab and probe it from a vantage namespace with every method.
# Usage: scripts/demo.sh   (as root; `make demo` builds bin/darkwatch first)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo.sh: needs root (network namespaces); run: sudo make demo" >&2; exit 2; }
bin=${DARKWATCH:-bin/darkwatch}
[ -x "$bin" ] || { echo "demo.sh: $bin not built; run: make build" >&2; exit 2; }
export LAB_PREFIX=${LAB_PREFIX:-dwlab}
scripts/lab.sh up
vp="ip netns exec ${LAB_PREFIX}-vp1"
dw() { echo; echo "\$ darkwatch $*"; $vp "$bin" --config configs/lab.yaml "$@" || true; }

echo
echo "== The lab: vantage vp1 -> router r1 -> border -> target (198.18.0.0/16, 2001:db8:1::/48)"
dw probe icmp --count 3 --interval 200ms 198.18.3.4 2001:db8:1::1234
dw probe tcp --port 80,81,443 198.18.1.1
dw probe trace 198.18.7.7
dw probe trace --proto udp 198.18.7.7
dw probe trace --proto tcp --port 80 2001:db8:1::7
dw probe dns --qname www.dw.example --qtype A 198.18.0.53
dw probe dns --qname nope.dw.example 198.18.0.53
dw probe dns --qname big.dw.example --qtype TXT 2001:db8:1::53

echo
echo "== Sweep the whole /16 statelessly, as fast as the lab goes"
dw sweep --targets 198.18.0.0/16 --method icmp --rate 0 --cooldown 1s --out "${TMPDIR:-/tmp}/darkwatch-demo-sweep.jsonl"
dw sweep --targets 198.18.0.0/16 --method tcp:80 --rate 0 --cooldown 1s --out "${TMPDIR:-/tmp}/darkwatch-demo-sweep.jsonl"

echo
echo "== Cut the border: the target space goes dark, the trace stops at the border"
scripts/lab.sh fault border-cut
dw probe icmp --timeout 1s 198.18.3.4
dw probe trace --max-ttl 8 --timeout 1s 198.18.7.7
scripts/lab.sh restore

echo
echo "== The blocklist: private space is refused before anything is sent"
dw probe icmp 172.16.5.5
echo
echo "The lab stays up for you: ip netns exec ${LAB_PREFIX}-vp1 $bin --config configs/lab.yaml probe ..."
echo "Take it down with: make lab-down"
