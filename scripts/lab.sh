#!/usr/bin/env bash
# lab.sh — darkwatch's network test lab, built only from network namespaces.
#
# Usage: lab.sh up | down | status | space PROFILE|off|check FILE | fault KIND [ARG]
#        | restore | gc
#
# Everything lives in namespaces named ${LAB_PREFIX}-NODE (default prefix "dwlab"),
# linked by veth pairs created directly inside those namespaces: nothing in the
# host's root namespace (interfaces, routes, nftables) is ever touched. Addresses
# come only from 198.18.0.0/15, 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
# 2001:db8::/32.
#
# Topology (i = 1..LAB_VANTAGES, default 3, at most 31):
#
#   vp_i [up0] ---- [vp0] r_i [up0] ---- [r_i] border [target] ---- [up0] target
#                                                     [canary] ---- [up0] canary
#                                                     [col]    ---- [up0] col
#
#   (i is written in decimal digits in the IPv6 addresses: vantage 10 is 2001:db8:a:10::2)
#   vp_i   <-> r_i     192.0.2.(8i)/29      r_i .(8i+1)   vp_i .(8i+2)
#                      2001:db8:a:i::/64    r_i ::1       vp_i ::2
#   r_i    <-> border  203.0.113.(8i)/29    border .(8i+1) r_i .(8i+2)
#                      2001:db8:b:i::/64    border ::1    r_i ::2
#   border <-> target  198.51.100.0/30      border .1     target .2
#                      2001:db8:c::/64      border ::1    target ::2
#   border <-> canary  198.51.100.4/30      border .5     canary .6
#                      2001:db8:d::/64      border ::1    canary ::2
#   border <-> col     198.51.100.8/30      border .9     col .10
#                      2001:db8:e::/64      border ::1    col ::2
#
#   Every non-border node has a default route toward the border. The border routes
#   198.18.0.0/16 via 198.51.100.2 and 2001:db8:1::/48 via 2001:db8:c::2 (target),
#   198.19.255.0/24 via 198.51.100.6 and 2001:db8:2::/48 via 2001:db8:d::2 (canary),
#   and each vantage /29 and /64 via its r_i. The collector (col: darkwatch serve,
#   and later a BGP collector) is on a link of the border's own, so every vantage
#   reaches it through its router and the border; target-space faults leave it alone.
#
#   The target answers the whole of 198.18.0.0/16 and 2001:db8:1::/48 (AnyIP local
#   routes on lo); the canary answers 198.19.255.0/24 and 2001:db8:2::/48.
#   In the border: BIRD 2 (AS 64500, router id 198.51.100.9) announces 198.18.0.0/24,
#   198.18.1.0/24, 198.18.2.0/24, 198.18.3.0/24 and the covering 198.18.0.0/16 over
#   eBGP to the collector at 198.51.100.10 (AS 64501), which darkwatch's passive
#   route collector accepts (bgp: {local_asn: 64501, peers: [{addr: 198.51.100.9,
#   asn: 64500}]}). BIRD only announces: it installs no route in any kernel table.
#   In the target: nsd, authoritative for dw.example. on 198.18.0.53 and
#   2001:db8:1::53 (UDP and TCP 53); socat listeners on TCP 80 (a fixed HTTP/1.0
#   reply) and 443 (accepts, sends nothing) on every target address; 81 is closed.
#
# Faults (nftables table "inet dwfault", one forward-hook chain per fault, so they
# add up; TTL-expired is answered before the forward hook, so a cut router still
# shows up as a traceroute hop):
#   fault border-cut      border drops everything forwarded to/from the target space
#   fault uplink-cut N    r_N drops everything it forwards
#   fault loss PCT        border drops PCT% of packets to/from the target space
#   fault icmp-drop [CIDR] border drops ICMP/ICMPv6 echo to/from the target space
#                         (or only CIDR of it)
#   fault dark CIDR       border drops everything to/from CIDR, any prefix inside the
#                         target space (198.18.0.0/16, 2001:db8:1::/48): a block, half
#                         of one, a /22; one chain per CIDR, so several add up
#   fault undark CIDR     lift the dark fault of CIDR alone
#   fault withdraw PREFIX BIRD withdraws its announcement of PREFIX (one of the five
#                         above); the data plane is untouched
#   restore | fault restore   remove every dwfault table in the lab and re-announce
#                         every withdrawn prefix; the address-space profile stays
#
# Address-space profiles (nftables table "inet dwspace", an input-hook chain in the
# target, apart from the dwfault tables, so that faults and restore leave it alone):
# by default (after "up") every address of the target space answers. A profile makes
# the space look like the Internet: per /24 it names how many addresses answer, how
# often, and what else is special. One line per /24, "#" starts a comment:
#
#   198.18.4.0/24 responders=40 a=0.8 [icmp=drop] [period=40s]
#
#   responders=N  N addresses (1..250) answer; every other address of the block drops
#                 everything, so that probes to it time out. The responders are spread
#                 over the block: host numbers 1 + (37*c + 97*k) mod 254 for
#                 k = 0..N-1, c being the block's third octet.
#   a=P           each probe to a responder (ICMP echo request, TCP SYN, UDP datagram)
#                 is answered with probability P (0.01..1, two decimals at most); the
#                 rest is dropped (nft numgen random mod 100).
#   icmp=drop     the block drops ICMP echo requests (TCP and UDP answer as above);
#                 icmp=answer is the default.
#   period=D      diurnal: the block answers in the first half of every period of D
#                 (an even number of seconds, 4s..24h: 40s, 10m, 24h) counted from the
#                 Unix epoch and is dark in the second half. A clock the lab owns (a
#                 background loop in the target namespace, stopped by "space off",
#                 another "space" and "down") switches it 0.5 s before each half
#                 begins, so that a round starting on the boundary finds the new state;
#                 it logs each switch ("TIME BLOCK up|dark") to space-clock.log in
#                 the lab's state directory.
#
# Blocks that a profile does not name answer on every address, as without a profile.
# configs/lab-space-realistic.txt ("space realistic") is a realistic target space:
# dense, mid-range, sparse (|E| < 15 or A < 0.1), ICMP-filtered and diurnal blocks.
#   space PROFILE         apply PROFILE (a file, or "realistic"), replacing any other
#   space off             every address answers again
#   space check PROFILE   validate PROFILE and print its blocks (no root needed)
#
# Environment:
#   LAB_PREFIX      namespace/state prefix, [a-z0-9]{1,12}, default dwlab
#   LAB_VANTAGES    number of vantages for "up", default 3
#   LAB_STATE_ROOT  parent of the per-lab state dir, default /run/darkwatch-lab
#   LAB_OWNER_PID   (optional, for "up") pid that owns the lab; "gc" brings down
#                   labs whose owner has died (test processes killed by -timeout)
set -euo pipefail

PATH="$PATH:/usr/sbin:/sbin:/usr/bin:/bin"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
P="${LAB_PREFIX:-dwlab}"
STATE_ROOT="${LAB_STATE_ROOT:-/run/darkwatch-lab}"
STATE="$STATE_ROOT/$P"

T4=198.18.0.0/16
T6=2001:db8:1::/48
C4=198.19.255.0/24
C6=2001:db8:2::/48
DNS4=198.18.0.53
DNS6=2001:db8:1::53

usage() {
	cat >&2 <<'EOF'
usage: lab.sh up | down | status | space ... | fault KIND [ARG] | restore | gc
  up                  (re)build the lab (LAB_PREFIX, LAB_VANTAGES); every address
                      of the target space answers
  down                remove every namespace, process and state file of LAB_PREFIX
  status              show namespaces, processes, profile and faults; exit 0 if up
  space PROFILE       answer as PROFILE says (a file, or "realistic"): per /24 line
                      "198.18.4.0/24 responders=40 a=0.8 [icmp=drop] [period=40s]"
  space off           every address of the target space answers again
  space check PROFILE validate PROFILE and print its blocks
  fault border-cut    border drops all traffic to/from the target space
  fault uplink-cut N  router r_N forwards nothing
  fault loss PCT      border drops PCT% of target-space packets at random
  fault icmp-drop [CIDR]  border drops ICMP echo to/from the target space (or CIDR)
  fault dark CIDR     border drops all traffic to/from CIDR (inside the target space)
  fault undark CIDR   lift the dark fault of CIDR
  fault withdraw PFX  BIRD in the border withdraws its announcement of PFX
  fault restore       same as restore
  restore             remove all faults (the profile stays)
  gc                  bring down labs whose LAB_OWNER_PID has exited
EOF
	exit 2
}

die() { echo "lab.sh: $*" >&2; exit 1; }

need_root() {
	[ "$(id -u)" -eq 0 ] || die "must run as root (it creates network namespaces)"
}

need_tools() {
	local t pkg
	for t in "$@"; do
		case "$t" in
		ip) pkg=iproute2 ;;
		nft) pkg=nftables ;;
		nsd) pkg=nsd ;;
		socat) pkg=socat ;;
		bird | birdc) pkg=bird2 ;;
		*) pkg="$t" ;;
		esac
		command -v "$t" >/dev/null 2>&1 ||
			die "'$t' not found; install the Debian package '$pkg' (apt-get install $pkg)"
	done
}

check_prefix() {
	[[ "$P" =~ ^[a-z0-9]{1,12}$ ]] ||
		die "LAB_PREFIX must be 1-12 characters of [a-z0-9], got '$P'"
}

ns() { echo "$P-$1"; }

# lab_namespaces prints the namespaces of this prefix that exist now.
lab_namespaces() {
	ip netns list 2>/dev/null | awk '{print $1}' |
		grep -E "^${P}-(vp[0-9]+|r[0-9]+|border|target|canary|col)\$" || true
}

vantages_in_use() {
	if [ -r "$STATE/vantages" ]; then
		cat "$STATE/vantages"
	else
		lab_namespaces | grep -cE "^${P}-vp[0-9]+\$" || true
	fi
}

# sysctls NS ROUTER(0|1) VANTAGE(0|1): write /proc/sys inside NS (no procps needed).
# Only keys that exist in the namespace are written: a key absent from a non-initial
# namespace is global, and the lab never changes the host's settings.
sysctls() {
	local n="$1" router="$2" vantage="$3"
	ip netns exec "$n" sh -c '
		set -e
		w() { if [ -w "/proc/sys/$1" ]; then echo "$2" > "/proc/sys/$1"; fi; }
		for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > "$f"; done
		w net/ipv4/icmp_ratelimit 0
		w net/ipv4/icmp_msgs_per_sec 1000000
		w net/ipv4/icmp_msgs_burst 1000000
		w net/ipv6/icmp/ratelimit 0
		w net/ipv6/icmp/msgs_per_sec 1000000
		w net/ipv6/icmp/msgs_burst 1000000
		w net/ipv6/conf/all/accept_dad 0
		w net/ipv6/conf/default/accept_dad 0
		w net/ipv6/conf/all/accept_ra 0
		w net/ipv6/conf/default/accept_ra 0
		if [ "$1" = 1 ]; then
			w net/ipv4/ip_forward 1
			w net/ipv6/conf/all/forwarding 1
			w net/ipv6/conf/default/forwarding 1
		fi
		if [ "$2" = 1 ]; then
			w net/ipv4/ping_group_range "0 2147483647"
		fi
	' sysctls "$router" "$vantage"
}

# link NS1 IF1 NS2 IF2: a veth pair created directly inside the two namespaces.
link() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

addr4() { ip -n "$1" addr add "$3" dev "$2"; }
addr6() { ip -n "$1" -6 addr add "$3" dev "$2" nodad; }

write_nsd_files() {
	cat >"$STATE/nsd.conf" <<EOF
server:
	ip-address: $DNS4
	ip-address: $DNS6
	ip-freebind: yes
	port: 53
	do-ip4: yes
	do-ip6: yes
	server-count: 1
	tcp-count: 256
	username: ""
	chroot: ""
	zonesdir: "$STATE"
	database: ""
	zonelistfile: "$STATE/nsd.zone.list"
	xfrdfile: "$STATE/nsd.xfrd.state"
	xfrdir: "$STATE"
	pidfile: ""
	logfile: "$STATE/nsd.log"
	zonefiles-check: no
	zonefiles-write: 0
	hide-version: yes
	identity: "darkwatch-lab"
	nsid: "ascii_darkwatch-lab"
	verbosity: 1
	rrl-ratelimit: 0
	rrl-whitelist-ratelimit: 0
remote-control:
	control-enable: no
zone:
	name: dw.example.
	zonefile: "dw.example.zone"
EOF
	{
		cat <<EOF
\$ORIGIN dw.example.
\$TTL 300
@	IN SOA	ns.dw.example. hostmaster.dw.example. 1 3600 600 86400 300
@	IN NS	ns.dw.example.
ns	IN A	$DNS4
ns	IN AAAA	$DNS6
www	IN A	198.18.0.80
www	IN AAAA	2001:db8:1::80
EOF
		# 16 TXT records of ~50 bytes: ~1 KB answer, more than 512 (no EDNS: TC,
		# retry over TCP) but less than 1232 (EDNS answers fit in one datagram).
		local k
		for k in $(seq -w 1 16); do
			echo "big	IN TXT	\"darkwatch lab record $k padding padding padding pad\""
		done
	} >"$STATE/dw.example.zone"
	printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: close\r\n\r\ndarkwatch lab\n' >"$STATE/http-reply"
}

# BGP_PREFIXES are what BIRD in the border announces to the collector; each has a
# static protocol of its own (s_198_18_0_0_24, ...), which "fault withdraw" disables.
BGP_PREFIXES="198.18.0.0/24 198.18.1.0/24 198.18.2.0/24 198.18.3.0/24 198.18.0.0/16"
BORDER_ASN=64500
COLLECTOR_ASN=64501

# bird_proto PREFIX: the static protocol that announces PREFIX.
bird_proto() {
	local p="${1//./_}"
	echo "s_${p//\//_}"
}

write_bird_conf() {
	local p
	{
		echo "log \"$STATE/bird.log\" all;"
		echo "router id 198.51.100.9;"
		echo "protocol device { scan time 10; }"
		# blackhole: BIRD has no kernel protocol here, so it installs nothing;
		# the border forwards by its own routes.
		for p in $BGP_PREFIXES; do
			echo "protocol static $(bird_proto "$p") { ipv4; route $p blackhole; }"
		done
		echo "protocol bgp collector {"
		echo "	description \"darkwatch route collector in the col namespace\";"
		echo "	local 198.51.100.9 as $BORDER_ASN;"
		echo "	neighbor 198.51.100.10 as $COLLECTOR_ASN;"
		echo "	connect delay time 1;"
		echo "	connect retry time 1;"
		echo "	error wait time 1, 2;"
		echo "	hold time 9;"
		echo "	ipv4 { import none; export all; };"
		echo "}"
	} >"$STATE/bird.conf"
}

birdctl() { birdc -s "$STATE/bird.ctl" "$@"; }

# bg NAME NS CMD...: start CMD detached inside NS, stdio to a log, pid to NAME.pid.
bg() {
	local name="$1" n="$2"
	shift 2
	setsid ip netns exec "$n" "$@" </dev/null >"$STATE/$name.log" 2>&1 &
	echo $! >"$STATE/$name.pid"
}

wait_for() { # wait_for SECONDS DESCRIPTION CMD...
	local secs="$1" what="$2" i
	shift 2
	for ((i = 0; i < secs * 20; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.05
	done
	die "timed out after ${secs}s waiting for $what (logs in $STATE)"
}

listening() { # listening NS PROTO(t|u) PORT ADDR-REGEX
	ip netns exec "$1" ss -Hln"$2" "sport = :$3" | grep -qE "$4"
}

dns_answers() {
	if command -v dig >/dev/null 2>&1; then
		ip netns exec "$(ns target)" dig +time=1 +tries=1 +norec @"$DNS4" dw.example. SOA |
			grep -q 'status: NOERROR'
	else
		listening "$(ns target)" u 53 "$DNS4"
	fi
}

cmd_up() {
	need_root
	need_tools ip nft nsd socat bird birdc
	check_prefix
	local n="${LAB_VANTAGES:-3}" i
	[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 31 ] ||
		die "LAB_VANTAGES must be 1..31, got '$n'"
	cmd_down >/dev/null

	mkdir -p "$STATE"
	chmod 755 "$STATE_ROOT" "$STATE"
	echo "$n" >"$STATE/vantages"
	if [ -n "${LAB_OWNER_PID:-}" ]; then echo "$LAB_OWNER_PID" >"$STATE/owner"; fi

	local B T C COL
	B=$(ns border) T=$(ns target) C=$(ns canary) COL=$(ns col)
	local all=("$B" "$T" "$C" "$COL")
	for ((i = 1; i <= n; i++)); do all+=("$(ns "vp$i")" "$(ns "r$i")"); done
	for x in "${all[@]}"; do
		ip netns add "$x"
		ip -n "$x" link set lo up
	done
	sysctls "$B" 1 0
	sysctls "$T" 0 0
	sysctls "$C" 0 0
	sysctls "$COL" 0 0
	for ((i = 1; i <= n; i++)); do
		sysctls "$(ns "vp$i")" 0 1
		sysctls "$(ns "r$i")" 1 0
	done

	# border <-> target, border <-> canary
	link "$B" target "$T" up0
	addr4 "$B" target 198.51.100.1/30
	addr6 "$B" target 2001:db8:c::1/64
	addr4 "$T" up0 198.51.100.2/30
	addr6 "$T" up0 2001:db8:c::2/64
	ip -n "$T" route add default via 198.51.100.1
	ip -n "$T" -6 route add default via 2001:db8:c::1
	ip -n "$T" route add local "$T4" dev lo
	ip -n "$T" -6 route add local "$T6" dev lo
	ip -n "$B" route add "$T4" via 198.51.100.2
	ip -n "$B" -6 route add "$T6" via 2001:db8:c::2

	link "$B" canary "$C" up0
	addr4 "$B" canary 198.51.100.5/30
	addr6 "$B" canary 2001:db8:d::1/64
	addr4 "$C" up0 198.51.100.6/30
	addr6 "$C" up0 2001:db8:d::2/64
	ip -n "$C" route add default via 198.51.100.5
	ip -n "$C" -6 route add default via 2001:db8:d::1
	ip -n "$C" route add local "$C4" dev lo
	ip -n "$C" -6 route add local "$C6" dev lo
	ip -n "$B" route add "$C4" via 198.51.100.6
	ip -n "$B" -6 route add "$C6" via 2001:db8:d::2

	# border <-> col (the collector): on-link for the border, default route for col
	link "$B" col "$COL" up0
	addr4 "$B" col 198.51.100.9/30
	addr6 "$B" col 2001:db8:e::1/64
	addr4 "$COL" up0 198.51.100.10/30
	addr6 "$COL" up0 2001:db8:e::2/64
	ip -n "$COL" route add default via 198.51.100.9
	ip -n "$COL" -6 route add default via 2001:db8:e::1

	# vantages
	local V R
	for ((i = 1; i <= n; i++)); do
		V=$(ns "vp$i") R=$(ns "r$i")
		link "$R" up0 "$B" "r$i"
		addr4 "$B" "r$i" "203.0.113.$((8 * i + 1))/29"
		addr6 "$B" "r$i" "2001:db8:b:$i::1/64"
		addr4 "$R" up0 "203.0.113.$((8 * i + 2))/29"
		addr6 "$R" up0 "2001:db8:b:$i::2/64"
		ip -n "$R" route add default via "203.0.113.$((8 * i + 1))"
		ip -n "$R" -6 route add default via "2001:db8:b:$i::1"

		link "$V" up0 "$R" vp0
		addr4 "$R" vp0 "192.0.2.$((8 * i + 1))/29"
		addr6 "$R" vp0 "2001:db8:a:$i::1/64"
		addr4 "$V" up0 "192.0.2.$((8 * i + 2))/29"
		addr6 "$V" up0 "2001:db8:a:$i::2/64"
		ip -n "$V" route add default via "192.0.2.$((8 * i + 1))"
		ip -n "$V" -6 route add default via "2001:db8:a:$i::1"

		ip -n "$B" route add "192.0.2.$((8 * i))/29" via "203.0.113.$((8 * i + 2))"
		ip -n "$B" -6 route add "2001:db8:a:$i::/64" via "2001:db8:b:$i::2"
	done
	# Interfaces created after the first pass got the default rp_filter; clear again.
	for x in "${all[@]}"; do
		ip netns exec "$x" sh -c 'for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > "$f"; done'
	done

	# services in the target
	write_nsd_files
	bg nsd "$T" nsd -d -c "$STATE/nsd.conf"
	bg http "$T" socat TCP6-LISTEN:80,ipv6only=0,reuseaddr,fork,backlog=4096 \
		"OPEN:$STATE/http-reply,rdonly"
	bg https "$T" socat TCP6-LISTEN:443,ipv6only=0,reuseaddr,fork,backlog=4096 \
		OPEN:/dev/null,rdonly
	wait_for 10 "nsd on $DNS4" dns_answers
	wait_for 10 "nsd on $DNS6" listening "$T" u 53 "\\[$DNS6\\]"
	wait_for 10 "nsd on TCP" listening "$T" t 53 "$DNS4"
	wait_for 10 "listener on TCP 80" listening "$T" t 80 .
	wait_for 10 "listener on TCP 443" listening "$T" t 443 .

	# BIRD in the border: the control plane of the target space
	write_bird_conf
	bg bird "$B" bird -f -c "$STATE/bird.conf" -s "$STATE/bird.ctl"
	wait_for 10 "BIRD in the border" birdctl show status
	echo "lab $P up: $n vantages, namespaces ${P}-{vp1..vp$n,r1..r$n,border,target,canary,col}, state $STATE"
}

# pids_of NS: pids of every process in NS (ip netns pids), one a line.
pids_of() { ip netns pids "$1" 2>/dev/null || true; }

# alive PID: the process exists and is not a zombie (an init that does not reap
# orphans, as in some VMs and containers, leaves zombies behind).
alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}

cmd_down() {
	need_root
	need_tools ip
	check_prefix
	local nss x p pids=()
	nss=$(lab_namespaces)
	# Processes we started (pid files), then anything else left inside our namespaces.
	for f in "$STATE"/*.pid; do
		[ -r "$f" ] || continue
		p=$(cat "$f" 2>/dev/null || true)
		[[ "$p" =~ ^[0-9]+$ ]] && pids+=("$p")
	done
	for x in $nss; do
		for p in $(pids_of "$x"); do pids+=("$p"); done
	done
	if [ "${#pids[@]}" -gt 0 ]; then
		kill -TERM "${pids[@]}" 2>/dev/null || true
		local i left=()
		for ((i = 0; i < 100; i++)); do
			left=()
			for p in "${pids[@]}"; do
				if alive "$p"; then left+=("$p"); fi
			done
			[ "${#left[@]}" -eq 0 ] && break
			sleep 0.02
		done
		if [ "${#left[@]}" -gt 0 ]; then
			kill -KILL "${left[@]}" 2>/dev/null || true
		fi
		# Anything started meanwhile inside the namespaces.
		for x in $nss; do
			for p in $(pids_of "$x"); do kill -KILL "$p" 2>/dev/null || true; done
		done
	fi
	for x in $nss; do
		ip netns del "$x" 2>/dev/null || true
	done
	rm -rf "$STATE"
	rmdir "$STATE_ROOT" 2>/dev/null || true
	local left
	left=$(lab_namespaces)
	[ -z "$left" ] || die "could not remove: $left"
	echo "lab $P down"
}

# faults_of NS: names of the fault chains active in NS.
faults_of() {
	ip netns exec "$1" nft list table inet dwfault 2>/dev/null |
		awk '$1 == "chain" {print $2}' || true
}

cmd_status() {
	need_root
	need_tools ip nft
	check_prefix
	local nss x p n ok=1
	nss=$(lab_namespaces)
	n=$(vantages_in_use)
	echo "lab $P (state $STATE, $n vantages)"
	echo "namespaces:"
	for x in $nss; do echo "  $x"; done
	[ -n "$nss" ] || echo "  (none)"
	local want=(border target canary col)
	for ((i = 1; i <= n; i++)); do want+=("vp$i" "r$i"); done
	[ "$n" -ge 1 ] || ok=0
	for x in "${want[@]}"; do
		grep -qx "$P-$x" <<<"$nss" || { echo "  missing: $P-$x"; ok=0; }
	done
	echo "processes:"
	for x in $nss; do
		for p in $(pids_of "$x"); do
			echo "  $x $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)"
		done
	done
	local svc
	for svc in nsd http https bird; do
		p=$(cat "$STATE/$svc.pid" 2>/dev/null || true)
		if [ -z "$p" ] || ! alive "$p"; then
			echo "  not running: $svc"
			ok=0
		fi
	done
	local sp
	sp=$(cat "$STATE/space.name" 2>/dev/null || true)
	if [ -n "$sp" ]; then
		echo "space: $sp"
		if [ -r "$STATE/space-clock.pid" ]; then
			p=$(cat "$STATE/space-clock.pid")
			alive "$p" || { echo "  not running: space clock"; ok=0; }
		fi
	else
		echo "space: off (every address answers)"
	fi
	echo "faults:"
	local any=0 f
	for x in $nss; do
		f=$(faults_of "$x" | tr '\n' ' ')
		if [ -n "$f" ]; then
			echo "  $x: $f"
			any=1
		fi
	done
	[ "$any" = 1 ] || echo "  (none)"
	if [ "$ok" = 1 ]; then
		echo "status: up"
		return 0
	fi
	echo "status: not up"
	return 1
}

# nft_fault NODE CHAIN RULE...: (re)place fault chain CHAIN in NODE's dwfault table.
nft_fault() {
	local n chain="$2" r
	n=$(ns "$1")
	shift 2
	ip netns list | awk '{print $1}' | grep -qx "$n" || die "lab $P is not up (no namespace $n)"
	{
		echo "table inet dwfault {"
		echo "  chain $chain { type filter hook forward priority 0; policy accept; }"
		echo "}"
		echo "flush chain inet dwfault $chain"
		for r in "$@"; do echo "add rule inet dwfault $chain $r"; done
	} | ip netns exec "$n" nft -f -
}

# target_cidr CIDR: print "ip" or "ip6" when CIDR is a prefix inside the target
# space (198.18.0.0/16 or 2001:db8:1::/48) with no host bits set, else die.
target_cidr() {
	local x="$1" o1 o2 bits v m
	if [[ "$x" =~ ^198\.18\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})/([0-9]{1,2})$ ]]; then
		o1="${BASH_REMATCH[1]}" o2="${BASH_REMATCH[2]}" bits="${BASH_REMATCH[3]}"
		[ "$o1" -le 255 ] && [ "$o2" -le 255 ] && [ "$bits" -ge 16 ] && [ "$bits" -le 32 ] ||
			die "'$x' is not a prefix inside the target space 198.18.0.0/16 (or 2001:db8:1::/48)"
		v=$((o1 * 256 + o2)) m=$(((1 << (32 - bits)) - 1))
		[ $((v & m)) -eq 0 ] || die "'$x' has host bits set (its prefix starts lower)"
		echo ip
	elif [[ "${x,,}" =~ ^2001:db8:1:[0-9a-f:]*/([0-9]{2,3})$ ]] && [ "${BASH_REMATCH[1]}" -ge 48 ] &&
		[ "${BASH_REMATCH[1]}" -le 128 ]; then
		echo ip6
	else
		die "'$x' is not a prefix inside the target space 198.18.0.0/16 (or 2001:db8:1::/48)"
	fi
}

# dark_chain CIDR: the name of the fault chain that darkens CIDR.
dark_chain() {
	local c="${1,,}"
	c="${c//[.:\/]/_}"
	echo "dark_$c"
}

cmd_fault() {
	need_root
	need_tools ip nft
	check_prefix
	[ $# -ge 1 ] || usage
	local kind="$1"
	shift
	case "$kind" in
	border-cut)
		[ $# -eq 0 ] || usage
		nft_fault border border_cut \
			"ip daddr $T4 drop" "ip saddr $T4 drop" \
			"ip6 daddr $T6 drop" "ip6 saddr $T6 drop"
		;;
	uplink-cut)
		[ $# -eq 1 ] || usage
		[[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$(vantages_in_use)" ] ||
			die "uplink-cut: no vantage '$1' (lab has $(vantages_in_use))"
		nft_fault "r$1" uplink_cut "drop"
		;;
	loss)
		[ $# -eq 1 ] || usage
		[[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -le 100 ] || die "loss: PCT must be 0..100, got '$1'"
		# nft allows "< 99" at most; 100 is a plain drop, 0 an empty chain.
		local m="numgen random mod 100 < $1 drop"
		[ "$1" -eq 100 ] && m="drop"
		if [ "$1" -eq 0 ]; then
			nft_fault border loss
		else
			nft_fault border loss \
				"ip daddr $T4 $m" "ip saddr $T4 $m" \
				"ip6 daddr $T6 $m" "ip6 saddr $T6 $m"
		fi
		;;
	withdraw)
		[ $# -eq 1 ] || usage
		[[ " $BGP_PREFIXES " == *" $1 "* ]] ||
			die "withdraw: BIRD announces only $BGP_PREFIXES, not '$1'"
		[ -S "$STATE/bird.ctl" ] || die "lab $P is not up (no BIRD control socket in $STATE)"
		birdctl disable "$(bird_proto "$1")" >/dev/null ||
			die "withdraw: birdc disable $(bird_proto "$1") failed"
		;;
	icmp-drop)
		[ $# -le 1 ] || usage
		local e4="icmp type { echo-request, echo-reply } drop"
		local e6="icmpv6 type { echo-request, echo-reply } drop"
		if [ $# -eq 0 ]; then
			nft_fault border icmp_drop \
				"ip daddr $T4 $e4" "ip saddr $T4 $e4" \
				"ip6 daddr $T6 $e6" "ip6 saddr $T6 $e6"
		elif [ "$(target_cidr "$1")" = ip ]; then
			nft_fault border icmp_drop "ip daddr $1 $e4" "ip saddr $1 $e4"
		else
			nft_fault border icmp_drop "ip6 daddr $1 $e6" "ip6 saddr $1 $e6"
		fi
		;;
	dark)
		[ $# -eq 1 ] || usage
		local fam
		fam=$(target_cidr "$1")
		nft_fault border "$(dark_chain "$1")" "$fam daddr $1 drop" "$fam saddr $1 drop"
		;;
	undark)
		[ $# -eq 1 ] || usage
		target_cidr "$1" >/dev/null
		local chain
		chain=$(dark_chain "$1")
		faults_of "$(ns border)" | grep -qx "$chain" || die "undark: no dark fault on $1"
		printf 'flush chain inet dwfault %s\ndelete chain inet dwfault %s\n' "$chain" "$chain" |
			ip netns exec "$(ns border)" nft -f - || die "undark: nft could not remove $chain"
		echo "lab $P: fault dark $1 off"
		return
		;;
	restore)
		[ $# -eq 0 ] || usage
		cmd_restore
		return
		;;
	*) usage ;;
	esac
	echo "lab $P: fault $kind${*:+ $*} on"
}

cmd_restore() {
	need_root
	need_tools ip nft
	check_prefix
	local x p cmds=""
	# All at once: a restore between two rounds must not take one.
	for x in $(lab_namespaces); do
		ip netns exec "$x" nft delete table inet dwfault 2>/dev/null &
	done
	if [ -S "$STATE/bird.ctl" ]; then
		for p in $BGP_PREFIXES; do
			cmds+="enable $(bird_proto "$p")"$'\n'
		done
		birdctl <<<"$cmds" >/dev/null || true
	fi
	wait || true
	echo "lab $P: faults removed"
}

# ---- address-space profiles ------------------------------------------------------

# REALISTIC_PROFILE is what "space realistic" applies.
REALISTIC_PROFILE="$(cd "$HERE/.." && pwd)/configs/lab-space-realistic.txt"
# SPACE_LEAD_US: the clock switches a diurnal block this many microseconds before
# the half of its period begins.
SPACE_LEAD_US=500000

space_path() {
	if [ "$1" = realistic ]; then echo "$REALISTIC_PROFILE"; else echo "$1"; fi
}

# space_bad MESSAGE: die naming the profile line being read.
space_bad() { die "space: $SP_FILE:$SP_LN: $*"; }

# space_parse FILE: read a profile into SP_C (third octets), SP_N (responders),
# SP_PCT (answer probability in percent), SP_ICMP (1: echo dropped) and SP_PERIOD
# (seconds, 0: always up), or die naming the first bad line.
space_parse() {
	SP_FILE="$1" SP_LN=0
	SP_C=() SP_N=() SP_PCT=() SP_ICMP=() SP_PERIOD=()
	local -A first=()
	local line f kv key val c n pct icmp period int frac num unit
	[ -f "$SP_FILE" ] && [ -r "$SP_FILE" ] || die "space: cannot read profile '$SP_FILE'"
	while IFS= read -r line || [ -n "$line" ]; do
		SP_LN=$((SP_LN + 1))
		line="${line%%#*}"
		read -ra f <<<"$line"
		[ "${#f[@]}" -gt 0 ] || continue
		[[ "${f[0]}" =~ ^198\.18\.(0|[1-9][0-9]{0,2})\.0/24$ ]] && [ "${BASH_REMATCH[1]}" -le 255 ] ||
			space_bad "'${f[0]}' is not a /24 of the target space 198.18.0.0/16 (198.18.N.0/24, N = 0..255)"
		c="${BASH_REMATCH[1]}"
		[ -z "${first[$c]:-}" ] || space_bad "${f[0]} is given twice (first on line ${first[$c]})"
		first[$c]=$SP_LN
		n="" pct="" icmp="" period=""
		for kv in "${f[@]:1}"; do
			[[ "$kv" == *=* ]] || space_bad "'$kv' is not KEY=VALUE (responders=N a=P [icmp=drop] [period=D])"
			key="${kv%%=*}" val="${kv#*=}"
			case "$key" in
			responders)
				[ -z "$n" ] || space_bad "responders given twice"
				[[ "$val" =~ ^[1-9][0-9]{0,2}$ ]] && [ "$val" -le 250 ] ||
					space_bad "responders=$val: want a number of addresses from 1 to 250"
				n="$val"
				;;
			a)
				[ -z "$pct" ] || space_bad "a given twice"
				[[ "$val" =~ ^([01]?)(\.([0-9]{1,2}))?$ ]] && [ -n "$val" ] && [ "$val" != . ] ||
					space_bad "a=$val: want a probability from 0.01 to 1, two decimals at most (a=0.8)"
				int="${BASH_REMATCH[1]:-0}" frac="${BASH_REMATCH[3]:-0}"
				[ "${#frac}" -eq 2 ] || frac="${frac}0"
				pct=$((10#$int * 100 + 10#$frac))
				[ "$pct" -ge 1 ] && [ "$pct" -le 100 ] ||
					space_bad "a=$val: want a probability from 0.01 to 1, two decimals at most (a=0.8)"
				;;
			icmp)
				[ -z "$icmp" ] || space_bad "icmp given twice"
				case "$val" in
				drop) icmp=1 ;;
				answer) icmp=0 ;;
				*) space_bad "icmp=$val: want icmp=drop or icmp=answer" ;;
				esac
				;;
			period)
				[ -z "$period" ] || space_bad "period given twice"
				[[ "$val" =~ ^([1-9][0-9]{0,5})(s|m|h)$ ]] ||
					space_bad "period=$val: want an even number of seconds from 4s to 24h (40s, 10m, 24h)"
				num="${BASH_REMATCH[1]}" unit="${BASH_REMATCH[2]}"
				case "$unit" in
				s) period=$num ;;
				m) period=$((num * 60)) ;;
				h) period=$((num * 3600)) ;;
				esac
				[ "$period" -ge 4 ] && [ "$period" -le 86400 ] && [ $((period % 2)) -eq 0 ] ||
					space_bad "period=$val: want an even number of seconds from 4s to 24h (40s, 10m, 24h)"
				;;
			*) space_bad "unknown setting '$key' (responders=, a=, icmp=, period=)" ;;
			esac
		done
		[ -n "$n" ] && [ -n "$pct" ] || space_bad "${f[0]}: responders= and a= are required"
		SP_C+=("$c") SP_N+=("$n") SP_PCT+=("$pct") SP_ICMP+=("${icmp:-0}") SP_PERIOD+=("${period:-0}")
	done <"$SP_FILE"
	[ "${#SP_C[@]}" -gt 0 ] || die "space: $SP_FILE names no block"
}

# space_responders C N: the N responsive addresses of block 198.18.C.0/24.
space_responders() {
	local c="$1" n="$2" k
	for ((k = 0; k < n; k++)); do
		echo "198.18.$c.$((1 + (37 * c + 97 * k) % 254))"
	done
}

# space_rules: the nft script of the parsed profile (it replaces the dwspace table
# atomically).
space_rules() {
	local i c blocks=() live=() icmpoff=() a
	for i in "${!SP_C[@]}"; do
		c="${SP_C[$i]}"
		blocks+=("198.18.$c.0/24")
		mapfile -t a < <(space_responders "$c" "${SP_N[$i]}")
		live+=("${a[@]}")
		[ "${SP_ICMP[$i]}" = 0 ] || icmpoff+=("198.18.$c.0/24")
	done
	local IFS=,
	echo "add table inet dwspace"
	echo "delete table inet dwspace"
	echo "table inet dwspace {"
	echo "  set blocks { type ipv4_addr; flags interval; elements = { ${blocks[*]} }; }"
	echo "  set live { type ipv4_addr; elements = { ${live[*]} }; }"
	if [ "${#icmpoff[@]}" -gt 0 ]; then
		echo "  set icmpoff { type ipv4_addr; flags interval; elements = { ${icmpoff[*]} }; }"
	else
		echo "  set icmpoff { type ipv4_addr; flags interval; }"
	fi
	echo "  set dark { type ipv4_addr; flags interval; }"
	echo "  chain input {"
	echo "    type filter hook input priority -10; policy accept;"
	echo "    ip daddr != @blocks accept"
	echo "    ip daddr != @live drop"
	echo "    ip daddr @dark drop"
	echo "    ip daddr @icmpoff icmp type echo-request drop"
	unset IFS
	local b p
	for i in "${!SP_C[@]}"; do
		p="${SP_PCT[$i]}"
		[ "$p" -lt 100 ] || continue
		b="198.18.${SP_C[$i]}.0/24"
		echo "    ip daddr $b icmp type echo-request numgen random mod 100 >= $p drop"
		echo "    ip daddr $b tcp flags & (fin|syn|rst|ack) == syn numgen random mod 100 >= $p drop"
		echo "    ip daddr $b meta l4proto udp numgen random mod 100 >= $p drop"
	done
	echo "  }"
	echo "}"
}

# space_stop_clock: stop the clock of diurnal blocks, if one runs.
space_stop_clock() {
	local p
	p=$(cat "$STATE/space-clock.pid" 2>/dev/null || true)
	if [[ "$p" =~ ^[0-9]+$ ]]; then
		# The clock is a session leader (bg uses setsid): its sleep goes with it.
		kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
	fi
	rm -f "$STATE/space-clock.pid"
}

# space_clock LEAD_US BLOCK PERIOD_S [BLOCK PERIOD_S ...]: run in the target
# namespace; keeps each BLOCK in the dark set in the second half of every period
# of PERIOD_S seconds since the Unix epoch, switching LEAD_US early.
space_clock() {
	local lead="$1"
	shift
	local blk=() per=() st=()
	while [ $# -ge 2 ]; do
		blk+=("$1") per+=("$2") st+=(up)
		shift 2
	done
	local now t p half ph want wake next i cmds d
	local -a want_st
	while :; do
		now=${EPOCHREALTIME/[.,]/}
		t=$((now + lead))
		next=0 cmds="" want_st=()
		for i in "${!blk[@]}"; do
			p=$((per[i] * 1000000)) half=$((per[i] * 500000))
			ph=$((t % p))
			if [ "$ph" -lt "$half" ]; then
				want=up wake=$((t - ph + half))
			else
				want=dark wake=$((t - ph + p))
			fi
			want_st+=("$want")
			if [ "$want" != "${st[$i]}" ]; then
				if [ "$want" = dark ]; then
					cmds+="add element inet dwspace dark { ${blk[$i]} }"$'\n'
				else
					cmds+="delete element inet dwspace dark { ${blk[$i]} }"$'\n'
				fi
			fi
			wake=$((wake - lead))
			if [ "$next" -eq 0 ] || [ "$wake" -lt "$next" ]; then next=$wake; fi
		done
		if [ -n "$cmds" ]; then
			if nft -f - <<<"$cmds"; then
				d=$(date -u +%FT%T.%6NZ)
				for i in "${!blk[@]}"; do
					[ "${want_st[$i]}" = "${st[$i]}" ] || echo "$d ${blk[$i]} ${want_st[$i]}"
				done
				st=("${want_st[@]}")
			else
				echo "$(date -u +%FT%T.%6NZ) nft failed; trying again" >&2
				next=$((now + 200000))
			fi
		fi
		now=${EPOCHREALTIME/[.,]/}
		d=$((next - now))
		[ "$d" -ge 1000 ] || d=1000
		sleep "$((d / 1000000)).$(printf %06d $((d % 1000000)))"
	done
}

cmd_space() {
	[ $# -ge 1 ] || usage
	case "$1" in
	check)
		[ $# -eq 2 ] || usage
		space_parse "$(space_path "$2")"
		local i total=0
		for i in "${!SP_C[@]}"; do
			total=$((total + SP_N[i]))
			printf '198.18.%s.0/24 responders=%s a=%d.%02d icmp=%s period=%s\n' "${SP_C[$i]}" "${SP_N[$i]}" \
				$((SP_PCT[i] / 100)) $((SP_PCT[i] % 100)) "$([ "${SP_ICMP[$i]}" = 1 ] && echo drop || echo answer)" \
				"$([ "${SP_PERIOD[$i]}" = 0 ] && echo - || echo "${SP_PERIOD[$i]}s")"
		done
		echo "profile $SP_FILE: ${#SP_C[@]} blocks, $total responsive addresses"
		return
		;;
	off)
		[ $# -eq 1 ] || usage
		need_root
		need_tools ip nft
		check_prefix
		local T
		T=$(ns target)
		ip netns list | awk '{print $1}' | grep -qx "$T" || die "lab $P is not up (no namespace $T)"
		space_stop_clock
		ip netns exec "$T" nft delete table inet dwspace 2>/dev/null || true
		rm -f "$STATE/space.profile" "$STATE/space.name"
		echo "lab $P: space off (every address answers)"
		return
		;;
	esac
	[ $# -eq 1 ] || usage
	need_root
	need_tools ip nft
	check_prefix
	local file T i args=()
	file=$(space_path "$1")
	space_parse "$file"
	T=$(ns target)
	ip netns list | awk '{print $1}' | grep -qx "$T" || die "lab $P is not up (no namespace $T)"
	space_stop_clock
	space_rules | ip netns exec "$T" nft -f - || die "space: nft refused the rules of $file"
	cp "$file" "$STATE/space.profile"
	echo "$1" >"$STATE/space.name"
	for i in "${!SP_C[@]}"; do
		[ "${SP_PERIOD[$i]}" = 0 ] || args+=("198.18.${SP_C[$i]}.0/24" "${SP_PERIOD[$i]}")
	done
	if [ "${#args[@]}" -gt 0 ]; then
		bg space-clock "$T" bash "$HERE/lab.sh" space-clock "$SPACE_LEAD_US" "${args[@]}"
	fi
	local total=0
	for i in "${!SP_C[@]}"; do total=$((total + SP_N[i])); done
	echo "lab $P: space $1: ${#SP_C[@]} blocks, $total responsive addresses, $((${#args[@]} / 2)) diurnal"
}

# gc: bring down labs (any prefix) whose recorded owner pid no longer exists.
cmd_gc() {
	need_root
	need_tools ip
	local d p pfx
	for d in "$STATE_ROOT"/*/; do
		[ -r "$d/owner" ] || continue
		p=$(cat "$d/owner" 2>/dev/null || true)
		[[ "$p" =~ ^[0-9]+$ ]] || continue
		[ -d "/proc/$p" ] && continue
		pfx=$(basename "$d")
		LAB_PREFIX="$pfx" bash "$0" down || true
	done
}

[ $# -ge 1 ] || usage
sub="$1"
shift
case "$sub" in
up) [ $# -eq 0 ] || usage; cmd_up ;;
down) [ $# -eq 0 ] || usage; cmd_down ;;
status) [ $# -eq 0 ] || usage; cmd_status ;;
fault) cmd_fault "$@" ;;
restore) [ $# -eq 0 ] || usage; cmd_restore ;;
space) cmd_space "$@" ;;
space-clock) space_clock "$@" ;; # internal: the clock "space" starts in the target
gc) [ $# -eq 0 ] || usage; cmd_gc ;;
-h | --help | help) usage ;;
*) echo "lab.sh: unknown subcommand '$sub'" >&2; usage ;;
esac
