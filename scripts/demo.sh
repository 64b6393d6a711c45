#!/usr/bin/env bash
# demo.sh — the December 2014 North Korea blackout, replayed in the lab.
#
# Usage: scripts/demo.sh   (as root; `make demo` installs the packages and builds
#                           bin/darkwatch first; run it again at will)
#
# The lab (scripts/lab.sh) stands in for the Internet: three vantage points, each
# behind its own router, a border router, and a target namespace answering
# 198.18.0.0/16. The four /24s of 198.18.0.0/22 play North Korea's 175.45.176.0/22:
# BIRD in the border announces them (and their covering /16) to the collector.
#
#   collector (namespace col): darkwatch serve — NATS JetStream for the nodes' records,
#             the passive BGP collector of BIRD's routes, verdicts, dashboard, API
#   nodes (vp1..vp3):          darkwatch run, one round every 6 s, records to the
#             collector (each kept in its own store until the collector has it)
#
# Then a compressed 22 December 2014: normal, a day of instability (30 % loss and
# route flaps), the blackout (the four /24s withdrawn and their traffic dropped),
# and recovery. It prints each prefix's and block's verdict timeline and writes the
# HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo.sh: needs root (network namespaces); run: sudo make demo" >&2; exit 2; }
bin=$(realpath "${DARKWATCH:-bin/darkwatch}")
[ -x "$bin" ] || { echo "demo.sh: $bin not built; run: make build" >&2; exit 2; }
export LAB_PREFIX=${LAB_PREFIX:-dwdemo}
out=${DEMO_OUT:-${TMPDIR:-/tmp}/darkwatch-demo}
ROUND=${DEMO_ROUND:-6}  # seconds: a round with traces to a dark target takes about 4

ns() { echo "${LAB_PREFIX}-$1"; }
say() { printf '\n== %s  %s\n' "$(date -u +%H:%M:%S)" "$*"; }
lab() { scripts/lab.sh "$@" >/dev/null; }

rm -rf "$out"
mkdir -p "$out"
scripts/lab.sh up

say "the four methods, from vp1 (configs/lab.yaml)"
tour() { echo "\$ darkwatch $*"; ip netns exec "$(ns vp1)" "$bin" --config configs/lab.yaml "$@" || true; }
tour probe icmp --count 2 198.18.3.4 2001:db8:1::1234
tour probe tcp --port 80,81 198.18.1.1
tour probe trace 198.18.7.7
tour probe dns --qname www.dw.example --qtype A 198.18.0.53
tour sweep --targets 198.18.0.0/16 --method icmp --rate 0 --cooldown 1s --out "$out/sweep.jsonl"

# --- configuration: one file per node, one for the collector ----------------
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$out/api.token"
common() {
	cat <<EOF
allow: [198.18.0.0/15]
contact: "darkwatch demo"
metrics: "off"
round: ${ROUND}s
quorum: 2
rate: {pps: 0, per_block_pps: 0}
probe: {timeout: 800ms, interval: 200ms}
canaries: [{addr: 198.19.255.1, methods: [icmp]}]
targets:
  - name: kp-lab
    prefixes: [198.18.0.0/22]
    asn: 64500
    country: ZZ
    methods: [icmp, "tcp:80", trace]
    trace_every: 3
    hosts:
      - {addr: 198.18.0.53, name: ns.dw.example, methods: [icmp, "dns:dw.example./SOA"]}
bgp: {local_asn: 64501, listen: "198.51.100.10:179", peers: [{addr: 198.51.100.9, asn: 64500}], full_feed: {ipv4: 0, ipv6: 0}}
EOF
}
nodes=""
for i in 1 2 3; do
	head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$out/vp$i.pass"
	chmod 600 "$out/vp$i.pass" # darkwatch refuses secret files others may read
	nodes="$nodes      - {user: vp$i, password_file: $out/vp$i.pass}"$'\n'
	{
		common
		echo "vantage: vp$i"
		echo "store: sqlite://$out/vp$i.db"
		echo "collector: {url: \"nats://198.51.100.10:4222\", user: vp$i, password_file: $out/vp$i.pass, insecure_plaintext: true}"
	} >"$out/vp$i.yaml"
done
{
	common
	echo "vantage: collector"
	echo "store: sqlite://$out/collector.db"
	echo "serve:"
	echo "  listen: 198.51.100.10:8080"
	echo "  refresh: ${ROUND}s"
	echo "  tokens: [{name: demo, file: $out/api.token}]"
	echo "  nats:"
	echo "    listen: 198.51.100.10:4222"
	echo "    insecure_plaintext: true  # the lab is an isolated network"
	echo "    store_dir: $out/nats"
	echo "    nodes:"
	printf '%s' "$nodes"
} >"$out/collector.yaml"

# --- start the collector, then the nodes --------------------------------------
pids=()
stop_all() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
trap 'stop_all; echo "demo interrupted; the lab stays up (make lab-down LAB_PREFIX=$LAB_PREFIX)" >&2' INT TERM
say "collector: darkwatch serve in $(ns col) (NATS JetStream, BGP collector AS 64501, dashboard)"
ip netns exec "$(ns col)" "$bin" --config "$out/collector.yaml" --log-level warn serve 2>"$out/serve.log" &
pids+=($!)
announced() {
	"$bin" --config "$out/collector.yaml" bgp show "$1" --json 2>/dev/null | tail -1 | grep -q '"control_plane":"announced"'
}
for _ in $(seq 100); do announced 198.18.3.0/24 && break; sleep 0.2; done
echo "BIRD (border, AS 64500) -> collector:"
"$bin" --config "$out/collector.yaml" bgp show 198.18.1.0/24 --bin 1m | tail -1
for i in 1 2 3; do
	say "node vp$i: darkwatch run (round ${ROUND}s) -> collector"
	ip netns exec "$(ns vp$i)" "$bin" --config "$out/vp$i.yaml" --log-level warn run 2>"$out/vp$i.log" &
	pids+=($!)
done

# --- December 2014, compressed -------------------------------------------------
phase() { # phase NAME ROUNDS
	say "$1"
	sleep $(($2 * ROUND))
}
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
phase "normal: every block answers, every /24 announced" 4
say "instability: 30 % loss at the border, 198.18.2.0/24 and 198.18.3.0/24 flap"
lab fault loss 30
for p in 198.18.2.0/24 198.18.3.0/24; do
	lab fault withdraw "$p"
	sleep $((2 * ROUND))
	lab restore
	lab fault loss 30
	sleep "$ROUND"
done
say "blackout: the four /24s are withdrawn and their traffic is dropped at the border"
lab restore
for p in 198.18.0.0/24 198.18.1.0/24 198.18.2.0/24 198.18.3.0/24; do lab fault withdraw "$p"; done
lab fault border-cut
sleep $((6 * ROUND))
say "recovery: routes announced again, traffic flows"
lab restore
sleep $((4 * ROUND))
ended=$(date -u +%Y-%m-%dT%H:%M:%SZ)
stop_all
trap - INT TERM

# --- what darkwatch says -------------------------------------------------------
dw() { "$bin" --config "$out/collector.yaml" --store "sqlite://$out/collector.db" "$@"; }
say "per-prefix and per-block timelines from $started to $ended (darkwatch report --format text)"
dw report --format text --since "$started" --until "$ended" | awk '/^Prefix timelines/,/^Vantage timelines/' | sed '$d'
say "outage events (darkwatch report --format json | events)"
dw report --format json --since "$started" --until "$ended" | python3 -c '
import json, sys
for e in json.load(sys.stdin).get("events") or []:
    if e["level"] in ("prefix", "block"):
        print("%-7s %-15s %-21s %s -> %s  %5.1f min  last hop %s" % (e["level"], e["entity"], e["kind"], e["start"][11:19], (e["end"] or "ongoing")[11:19], e["minutes"], e.get("last_hop") or "-"))'
say "the verdict now (darkwatch verdict --level block)"
dw verdict --level block || true
dw report --format html --since "$started" --until "$ended" --out "$out/report.html"
echo
echo "HTML report:  $out/report.html"
echo "Stores:       $out/collector.db (collector), $out/vp{1,2,3}.db (nodes)"
echo "Logs:         $out/serve.log, $out/vp{1,2,3}.log"
echo "Dashboard:    ip netns exec $(ns col) $bin --config $out/collector.yaml serve &"
echo "              ip netns exec $(ns col) curl -H 'Authorization: Bearer $(cat "$out/api.token")' http://198.51.100.10:8080/api/events"
echo "The lab stays up; take it down with: LAB_PREFIX=$LAB_PREFIX scripts/lab.sh down"
