#!/usr/bin/env bash
# bench.sh — darkwatch against zmap, masscan, nmap, fping and scamper, inside the
# network-namespace lab of scripts/lab.sh (root). Nothing leaves the lab: every probe
# goes from the vantage namespace ${LAB_PREFIX}-vp1 to 198.18.0.0/16 (the target
# namespace answers ICMP echo and TCP 80 for all of it) or 198.19.0.0/16 (workload 2).
#
# Workloads (WORKLOADS, default all of them, in this order):
#   sweep    the whole 198.18.0.0/16 (65,536 addresses, all answer), ICMP echo and
#            TCP SYN to port 80, with darkwatch, zmap, masscan, nmap and fping (ICMP)
#            at the same cooldown and rate: wall time, hits, hit %, peak RSS, and
#            darkwatch's wall time divided by each tool's for the same method
#   memory   darkwatch ICMP sweep of 198.18.0.0/15 (half answers) beside the /16
#   trace    1024 Paris ICMP traces (one address in each of 1024 (/24, band) pairs
#            spread over the /16), darkwatch against scamper: wall time, RSS, and how
#            many targets have identical hop lists
#   rate     achieved against requested rate, darkwatch ICMP: 1000 pps on a /20,
#            10000 and 100000 pps on the /16
#   bgp      darkwatch bgp dump against Debian's bgpdump -m on the largest MRT file of
#            testdata/mrt (updates.20160811.1600.gz): wall time, RSS, the
#            ratio (darkwatch / bgpdump, at most 1.0 is the goal) and identical lines
#   gobench  go test -run '^$' -bench . -benchmem ./probe/ ./schedule/ ./results/ ./results/store/ ./results/bgp/ ./results/transport/
#   report   the HTML report of 65,536 made-up targets (BenchmarkHTMLReport65536 in
#            results/report): its size, the Go time to write it, and headless
#            Chromium's time to load it (wall, browser start included) and the page's
#            own time from navigation to the first page of its target table
#
# A table per workload on stdout, progress on stderr, and the raw figures (one JSON
# object per run, one per table row) in $BENCH_OUT.
#
# Environment:
#   COOLDOWN=1        seconds every tool keeps listening after its last probe (integer:
#                     zmap -c, masscan --wait, darkwatch --cooldown, fping -t in ms)
#   RATE=0            packets per second for the sweeps; 0 = as fast as each tool goes
#                     (darkwatch --rate 0, zmap -r 0, masscan --rate 10000000,
#                     nmap --min-rate 1000000, fping -i 0)
#   PER_BLOCK_RATE=0  darkwatch --per-block-rate (its default, 10 pps a /24, would cap
#                     a /16 at 2,560 pps; the other tools have no such cap)
#   TRACE_PPS=10000   scamper -p for the traces (0: 10000, its maximum)
#   DW_TRACE_PPS=0    darkwatch --rate for the traces (0: no cap, as fast as the host
#                     sends); the defaults compare darkwatch
#                     --rate 0 against scamper -p 10000; set DW_TRACE_PPS to
#                     TRACE_PPS to compare at one cap
#   REPEAT=1          runs of each measurement; the tables show the median
#   SKIP_TOOLS=""     e.g. "masscan nmap": tools not to run (nor install)
#   WORKLOADS="sweep memory trace rate bgp gobench report"
#   BENCH_OUT=bench-results.jsonl   (relative to the directory bench.sh is run from)
#   LAB_PREFIX=dwbench  the lab's namespace prefix (brought up at start, down at exit)
#   TOOL_TIMEOUT=300  seconds after which a run is interrupted and counted as failed
#   REPORT_RUNS=3     writes and Chromium loads of the 65,536-target report
#   KEEP_LOGS=0       1: keep the work directory (outputs, stderr) even on success
#   DARKWATCH         the binary to benchmark (default bin/darkwatch, built with make build
#                     when missing or older than the sources)
#
# Exit status: 0 all measurements ran, 1 some failed (their logs are kept and named),
# 2 usage or environment error.
set -euo pipefail
export LC_ALL=C
PATH="$PATH:/usr/sbin:/sbin:/usr/bin:/bin"

die() { echo "bench.sh: $*" >&2; exit 2; }
say() { echo "bench: $*" >&2; }

[ "$(id -u)" -eq 0 ] ||
	die "must run as root: it builds network namespaces (scripts/lab.sh) and the scanners need raw sockets; run: sudo scripts/bench.sh"

CALLER_PWD=$PWD
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

COOLDOWN=${COOLDOWN:-1}
RATE=${RATE:-0}
PER_BLOCK_RATE=${PER_BLOCK_RATE:-0}
TRACE_PPS=${TRACE_PPS:-10000}
REPEAT=${REPEAT:-1}
SKIP_TOOLS=${SKIP_TOOLS:-}
WORKLOADS=${WORKLOADS:-sweep memory trace rate bgp gobench report}
TOOL_TIMEOUT=${TOOL_TIMEOUT:-300}
KEEP_LOGS=${KEEP_LOGS:-0}
BENCH_OUT=${BENCH_OUT:-bench-results.jsonl}
case "$BENCH_OUT" in /*) ;; *) BENCH_OUT="$CALLER_PWD/$BENCH_OUT" ;; esac
export LAB_PREFIX=${LAB_PREFIX:-dwbench}

isint() { [[ "$1" =~ ^[0-9]+$ ]]; }
isint "$COOLDOWN" || die "COOLDOWN must be whole seconds (zmap and masscan take integers), got '$COOLDOWN'"
isint "$RATE" || die "RATE must be packets per second, 0 for as fast as possible, got '$RATE'"
isint "$PER_BLOCK_RATE" || die "PER_BLOCK_RATE must be a number, got '$PER_BLOCK_RATE'"
isint "$TRACE_PPS" || die "TRACE_PPS must be a number, got '$TRACE_PPS'"
isint "${DW_TRACE_PPS:-0}" || die "DW_TRACE_PPS must be a number, got '$DW_TRACE_PPS'"
isint "$REPEAT" && [ "$REPEAT" -ge 1 ] || die "REPEAT must be 1 or more, got '$REPEAT'"
isint "$TOOL_TIMEOUT" && [ "$TOOL_TIMEOUT" -ge 1 ] || die "TOOL_TIMEOUT must be seconds, got '$TOOL_TIMEOUT'"
for w in $WORKLOADS; do
	case "$w" in sweep | memory | trace | rate | bgp | gobench | report) ;; *) die "WORKLOADS: unknown workload '$w'" ;; esac
done
for t in $SKIP_TOOLS; do
	case "$t" in zmap | masscan | nmap | fping | scamper) ;; *) die "SKIP_TOOLS: can skip zmap masscan nmap fping scamper, not '$t'" ;; esac
done

want() { [[ " $WORKLOADS " == *" $1 "* ]]; }
use() { [[ " $SKIP_TOOLS " != *" $1 "* ]]; }

T_START=$(date +%s.%N)

# ---------------------------------------------------------------- tools

# Debian packages this script needs beyond scripts/install-deps.sh (the lab's).
ensure_packages() {
	local -a need=()
	[ -x /usr/bin/time ] || need+=(time)
	command -v jq >/dev/null 2>&1 || need+=(jq)
	command -v timeout >/dev/null 2>&1 || need+=(coreutils)
	if want sweep; then
		use zmap && { command -v zmap >/dev/null 2>&1 || need+=(zmap); }
		use masscan && { command -v masscan >/dev/null 2>&1 || need+=(masscan); }
		use nmap && { command -v nmap >/dev/null 2>&1 || need+=(nmap); }
		use fping && { command -v fping >/dev/null 2>&1 || need+=(fping); }
	fi
	if want trace && use scamper; then
		command -v scamper >/dev/null 2>&1 || need+=(scamper)
	fi
	if want bgp; then
		command -v bgpdump >/dev/null 2>&1 || need+=(bgpdump)
	fi
	if want report; then
		[ -x /usr/bin/chromium ] || need+=(chromium)
	fi
	[ "${#need[@]}" -eq 0 ] && return 0
	say "installing missing Debian packages with apt-get: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed; install by hand: apt-get install ${need[*]}"
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed; install them by hand, or leave tools out with SKIP_TOOLS"
}

needs_lab() { want sweep || want memory || want trace || want rate; }

if needs_lab; then
	if [ -x scripts/install-deps.sh ]; then
		scripts/install-deps.sh || die "scripts/install-deps.sh failed (the lab's packages)"
	fi
fi
ensure_packages

# darkwatch, rebuilt when missing or older than its sources (unless DARKWATCH names
# another binary).
DW=${DARKWATCH:-$REPO/bin/darkwatch}
build_darkwatch() {
	local stale=""
	if [ -n "${DARKWATCH:-}" ]; then
		[ -x "$DW" ] || die "DARKWATCH=$DW is not an executable"
		return 0
	fi
	if [ ! -x "$DW" ]; then
		stale="missing"
	elif [ -n "$(find cmd probe schedule results go.mod go.sum Makefile -newer "$DW" \
		\( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name 'Makefile' \) -print -quit 2>/dev/null)" ]; then
		stale="older than its sources"
	fi
	[ -z "$stale" ] && return 0
	command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] ||
		die "bin/darkwatch is $stale and there is no Go toolchain on PATH to build it (make build)"
	command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
	say "bin/darkwatch is $stale: make build"
	if ! make --no-print-directory build >&2; then
		[ -x "$DW" ] || die "make build failed and there is no bin/darkwatch"
		say "WARNING: make build failed (sources being edited?); benchmarking the existing bin/darkwatch"
	fi
}
# The report and gobench workloads run go test, not bin/darkwatch.
needs_darkwatch() { want sweep || want memory || want trace || want rate || want bgp; }
if needs_darkwatch; then build_darkwatch; fi
DW_VERSION=$("$DW" version 2>/dev/null | head -1 || true)

# ---------------------------------------------------------------- work dir, lab, cleanup

W=$(mktemp -d /tmp/dwbench.XXXXXX)
chmod 755 "$W"
FAILED=0
LAB_IS_UP=0
VP="${LAB_PREFIX}-vp1"
R1="${LAB_PREFIX}-r1"
VP_ADDR=192.0.2.10
R1_ADDR=192.0.2.9

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$LAB_IS_UP" = 1 ]; then
		scripts/lab.sh down >/dev/null 2>&1 || scripts/lab.sh down >&2 ||
			echo "bench.sh: could not bring lab $LAB_PREFIX down; run: LAB_PREFIX=$LAB_PREFIX scripts/lab.sh down" >&2
	fi
	if [ "$FAILED" != 0 ] || [ "$KEEP_LOGS" = 1 ] || [ "$rc" != 0 ]; then
		echo "bench: outputs and logs kept in $W" >&2
	else
		rm -rf "$W"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

: >"$BENCH_OUT" || die "cannot write BENCH_OUT=$BENCH_OUT"

# jl KEY=VALUE...: one JSON object to $BENCH_OUT; values that look like numbers stay
# numbers, everything else is a string.
jl() {
	local kv k v out="" sep=""
	for kv in "$@"; do
		k=${kv%%=*} v=${kv#*=}
		if [[ "$v" =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then
			out+="$sep\"$k\":$v"
		else
			v=${v//\\/\\\\} v=${v//\"/\\\"}
			out+="$sep\"$k\":\"$v\""
		fi
		sep=","
	done
	echo "{$out}" >>"$BENCH_OUT"
}

tool_version() {
	case "$1" in
	zmap) zmap --version 2>/dev/null | head -1 ;;
	masscan) masscan --version 2>/dev/null | grep -m1 -o 'version [0-9.]*' ;;
	nmap) nmap --version 2>/dev/null | head -1 ;;
	fping) fping --version 2>/dev/null | head -1 ;;
	scamper) scamper -v 2>&1 | head -1 ;;
	esac
}

jl kind=meta date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" host="$(hostname)" nproc="$(nproc)" \
	kernel="$(uname -r)" darkwatch="$DW_VERSION" zmap="$(tool_version zmap || true)" \
	masscan="$(tool_version masscan || true)" nmap="$(tool_version nmap || true)" \
	fping="$(tool_version fping || true)" scamper="$(tool_version scamper || true)" \
	cooldown_s="$COOLDOWN" rate="$RATE" per_block_rate="$PER_BLOCK_RATE" trace_pps="$TRACE_PPS" \
	repeat="$REPEAT" skip_tools="$SKIP_TOOLS" workloads="$WORKLOADS"

if needs_lab; then
	say "bringing up lab $LAB_PREFIX (1 vantage)"
	LAB_IS_UP=1
	LAB_VANTAGES=1 LAB_OWNER_PID=$$ scripts/lab.sh up >"$W/lab-up.log" 2>&1 ||
		{ cat "$W/lab-up.log" >&2; die "scripts/lab.sh up failed"; }
	R1_MAC=$(ip netns exec "$R1" cat /sys/class/net/vp0/address)
	[[ "$R1_MAC" =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || die "cannot read r1's vp0 MAC (got '$R1_MAC')"
	: >"$W/empty.blocklist"
fi

# ---------------------------------------------------------------- helpers

# warm: make vp1 and r1 know each other's MAC before a run, so that tools that
# bypass the kernel (zmap, masscan) do not lose their first replies to r1's ARP.
warm() { ip netns exec "$VP" ping -c1 -W1 -q "$R1_ADDR" >/dev/null 2>&1 || true; }

rx_packets() { ip netns exec "$VP" cat /sys/class/net/up0/statistics/rx_packets 2>/dev/null || echo 0; }

# timed NAME [--poke-masscan] CMD...: run CMD under GNU time and timeout; stdout to
# $W/NAME.out, stderr to $W/NAME.err. Sets T_WALL (s), T_RSS (KB), T_RC, T_RX (packets
# received by vp1's up0 during the run).
timed() {
	local name=$1 poke=0
	shift
	if [ "$1" = --poke-masscan ]; then poke=1; shift; fi
	local tf="$W/$name.time" rx0 pid
	echo "$*" >"$W/$name.cmd"
	rx0=$(rx_packets)
	/usr/bin/time -o "$tf" -f 'BENCHTIME %e %M' \
		timeout -k 10 "$TOOL_TIMEOUT" "$@" >"$W/$name.out" 2>"$W/$name.err" &
	pid=$!
	if [ "$poke" = 1 ]; then
		# masscan 1.3.2's receive thread sleeps in poll() until a packet arrives, so
		# once the lab is quiet it may never see that the scan is over ("waiting
		# -N-secs" for ever; masscan issues #144, #558). Once it has sent everything,
		# one echo request from r1 to vp1 every 0.2 s wakes it within 0.2 s of the end
		# of its --wait.
		while kill -0 "$pid" 2>/dev/null; do
			if grep -q '100.00% done' "$W/$name.err" 2>/dev/null; then
				ip netns exec "$R1" ping -c1 -W1 -q "$VP_ADDR" >/dev/null 2>&1 || true
			fi
			sleep 0.2
		done
	fi
	set +e
	wait "$pid"
	T_RC=$?
	set -e
	T_RX=$(($(rx_packets) - rx0))
	T_WALL=$(awk '$1 == "BENCHTIME" {print $2}' "$tf" 2>/dev/null)
	T_RSS=$(awk '$1 == "BENCHTIME" {print $3}' "$tf" 2>/dev/null)
	T_WALL=${T_WALL:-0} T_RSS=${T_RSS:-0}
	if [ "$T_RC" = 124 ] || [ "$T_RC" = 137 ]; then
		echo "timed out after ${TOOL_TIMEOUT}s (TOOL_TIMEOUT)" >>"$W/$name.err"
	fi
}

# fail NAME WHAT: record a failed run and show where its stderr is.
fail() {
	FAILED=$((FAILED + 1))
	{
		echo "bench: FAILED: $2 (exit status $T_RC); command in $W/$1.cmd, stderr in $W/$1.err:"
		tail -n 5 "$W/$1.err" 2>/dev/null | tr '\r' '\n' | tail -n 5 | sed 's/^/    /'
	} >&2
}

# uniq_count: the number of distinct lab addresses (198.18/15) in the lines on stdin.
uniq_count() { { grep -E '^198\.1[89]\.[0-9]+\.[0-9]+$' || true; } | sort -u | wc -l; }

# dw_hits FILE: distinct targets with a reply (icmp) or open port (tcp) in darkwatch's records.
dw_hits() {
	{ grep -E '"outcome":"(reply|open)"' "$1" || true; } |
		{ grep -o '"target":"[^"]*"' || true; } | cut -d'"' -f4 | uniq_count
}

# dw_summary FILE FIELD: a figure from darkwatch's summary line on stderr
# ("sweep icmp: N targets, sent N, replies N, hits N (P%), ..., achieved N pps, ...").
dw_summary() {
	local line
	line=$(grep -E '^sweep [a-z0-9:]+: ' "$1" | tail -1 || true)
	case "$2" in
	hits) sed -n 's/.*, hits \([0-9]*\) .*/\1/p' <<<"$line" ;;
	pps) sed -n 's/.*achieved \([0-9.]*\) pps.*/\1/p' <<<"$line" ;;
	sent) sed -n 's/.*, sent \([0-9]*\),.*/\1/p' <<<"$line" ;;
	esac
}

median() {
	printf '%s\n' "$@" | sort -g |
		awk '{a[NR] = $1} END {if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN {if (b == 0) print "-"; else printf f "\n", a / b}'; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f\n", k / 1024}'; }
pct() { awk -v h="$1" -v n="$2" 'BEGIN {if (n == 0) print "-"; else printf "%.2f\n", 100 * h / n}'; }

# Figures of every run, by key "workload|tool|method": space-separated lists.
declare -A R_WALL R_RSS R_HITS R_RX R_PPS R_OK

# record KEY RUN NTARGETS OK: keep one run's figures (T_WALL T_RSS T_RX T_RC HITS PPS);
# the medians take only the runs that succeeded (OK=1); every run goes to $BENCH_OUT.
record() {
	local key=$1 run=$2 n=$3 ok=$4 wl tool meth
	IFS='|' read -r wl tool meth <<<"$key"
	if [ "$ok" = 1 ]; then
		R_OK[$key]=1
		R_WALL[$key]+="$T_WALL " R_RSS[$key]+="$T_RSS " R_HITS[$key]+="$HITS " R_RX[$key]+="$T_RX "
		R_PPS[$key]+="${PPS:-0} "
	fi
	jl kind=run workload="$wl" tool="$tool" method="$meth" run="$run" targets="$n" ok="$ok" \
		wall_s="$T_WALL" hits="$HITS" hit_pct="$(pct "$HITS" "$n")" rss_kb="$T_RSS" rx_packets="$T_RX" \
		tool_reported="${SELF:-}" achieved_pps="${PPS:-}" exit_status="$T_RC" cooldown_s="$COOLDOWN" \
		rate="${RATE_OVERRIDE:-$RATE}"
}

# med KEY ARRAY: the median of one figure over the runs of KEY.
med() {
	local -n arr=$2
	# shellcheck disable=SC2086
	median ${arr[$1]:-}
}

# ---------------------------------------------------------------- one sweep run per tool

N16=65536
ALL16="$W/all16.txt"

# sweep_run TOOL METHOD(icmp|tcp) TARGET RUNNAME: run one sweep; sets T_*, HITS, PPS.
# Returns 1 if the tool failed.
sweep_run() {
	local tool=$1 m=$2 target=$3 name=$4 ok=1
	HITS=0 PPS="" SELF=""
	warm
	case "$tool" in
	darkwatch)
		local meth=icmp rate=${RATE_OVERRIDE:-$RATE}
		[ "$m" = tcp ] && meth=tcp:80
		rm -f "$W/$name.jsonl"
		timed "$name" ip netns exec "$VP" "$DW" --allow 198.18.0.0/15 --vantage vp1 \
			sweep --targets "$target" --method "$meth" --rate "$rate" \
			--per-block-rate "$PER_BLOCK_RATE" --cooldown "${COOLDOWN}s" \
			--lock "$W/darkwatch.lock" --out "$W/$name.jsonl"
		# 0: every target answered, 1: some did not (the /15); anything else failed.
		[ "$T_RC" -le 1 ] && [ -s "$W/$name.jsonl" ] || ok=0
		HITS=$(dw_hits "$W/$name.jsonl" 2>/dev/null || echo 0)
		PPS=$(dw_summary "$W/$name.err" pps)
		SELF=$(dw_summary "$W/$name.err" hits)
		;;
	zmap)
		local module=(-M icmp_echoscan)
		[ "$m" = tcp ] && module=(-M tcp_synscan -p 80)
		# 198.18.0.0/15 is in zmap's default blocklist: -b with an empty file. -r 0
		# is unlimited in zmap 2.x.
		timed "$name" ip netns exec "$VP" zmap "${module[@]}" -i up0 -G "$R1_MAC" \
			-b "$W/empty.blocklist" -r "$RATE" -c "$COOLDOWN" -o "$W/$name.txt" "$target"
		[ "$T_RC" = 0 ] || ok=0
		HITS=$(uniq_count <"$W/$name.txt" 2>/dev/null || echo 0)
		SELF=$({ grep -o 'recv: [0-9]*' "$W/$name.err" || true; } | tail -n 1 | cut -d' ' -f2)
		;;
	masscan)
		local rate=$RATE what=(-p80)
		[ "$rate" = 0 ] && rate=10000000
		[ "$m" = icmp ] && what=(--ping)
		if [ "$m" = tcp ]; then
			# masscan's own stack uses source port 61000; keep vp1's kernel from
			# answering its SYN-ACKs with RSTs (masscan(8), "SPURIOUS RESETS").
			ip netns exec "$VP" nft -f - <<-'EOF'
				table inet dwbench_masscan {
					chain in { type filter hook input priority 0; policy accept; tcp dport 61000 drop; }
				}
			EOF
		fi
		timed "$name" --poke-masscan ip netns exec "$VP" masscan "$target" "${what[@]}" \
			--rate "$rate" --wait "$COOLDOWN" --router-mac "$R1_MAC" --adapter up0 \
			--adapter-ip "$VP_ADDR" --adapter-port 61000 -oL "$W/$name.txt"
		if [ "$m" = tcp ]; then
			ip netns exec "$VP" nft delete table inet dwbench_masscan 2>/dev/null || true
		fi
		[ "$T_RC" = 0 ] || ok=0
		HITS=$({ awk '$1 == "open" {print $4}' "$W/$name.txt" 2>/dev/null || true; } | uniq_count)
		# Its status line's found= counts open ports only, not echo replies.
		[ "$m" = tcp ] && SELF=$(tr '\r' '\n' <"$W/$name.err" | { grep -o 'found=[0-9]*' || true; } | tail -n 1 | cut -d= -f2)
		;;
	nmap)
		local rateopt=(--min-rate 1000000)
		[ "$RATE" != 0 ] && rateopt=(--min-rate "$RATE" --max-rate "$RATE")
		# --max-retries 0: one probe an address, as every other tool here sends.
		if [ "$m" = icmp ]; then
			timed "$name" ip netns exec "$VP" nmap -sn -n -PE --max-retries 0 "${rateopt[@]}" \
				-oG "$W/$name.gnmap" "$target"
			[ "$T_RC" = 0 ] || ok=0
			HITS=$({ awk '/Status: Up/ {print $2}' "$W/$name.gnmap" 2>/dev/null || true; } | uniq_count)
			SELF=$(sed -n 's/^Nmap done: .*(\([0-9]*\) hosts\{0,1\} up).*/\1/p' "$W/$name.out")
		else
			timed "$name" ip netns exec "$VP" nmap -sS -p80 -n -Pn --max-retries 0 "${rateopt[@]}" \
				-oG "$W/$name.gnmap" "$target"
			[ "$T_RC" = 0 ] || ok=0
			HITS=$({ awk '/Ports: .*80\/open\// {print $2}' "$W/$name.gnmap" 2>/dev/null || true; } | uniq_count)
		fi
		;;
	fping)
		# fping keeps at most 65,535 probes in flight within its 10 s expiry ("not
		# enough sequence numbers available"), so a /16 at full speed is two runs of
		# 32,768 addresses, one after the other, under one clock. -g would leave out
		# the network and broadcast addresses; the list holds all 65,536.
		local iv=0
		[ "$RATE" != 0 ] && iv=$(awk -v r="$RATE" 'BEGIN {printf "%.3f", 1000 / r}')
		local tmo=$((COOLDOWN * 1000))
		[ "$tmo" -ge 1 ] || tmo=1
		timed "$name" ip netns exec "$VP" sh -c '
			fping -f "$1" -a -q -r 0 -i "$3" -t "$4"; a=$?
			fping -f "$2" -a -q -r 0 -i "$3" -t "$4"; b=$?
			# 0 all alive, 1 some unreachable; more is an error.
			[ "$a" -le 1 ] && [ "$b" -le 1 ] && exit $((a | b))
			exit 4' fping "$ALL16.a" "$ALL16.b" "$iv" "$tmo"
		[ "$T_RC" -le 1 ] || ok=0
		HITS=$(uniq_count <"$W/$name.out" 2>/dev/null || echo 0)
		;;
	esac
	if [ "$ok" != 1 ]; then
		fail "$name" "$tool $m sweep of $target"
		return 1
	fi
	# What the tool says it found, where it says so, must match what its output holds.
	if [ -n "$SELF" ] && [ "$SELF" != "$HITS" ]; then
		say "WARNING: $name: $tool reports $SELF found, its output holds $HITS distinct answering addresses"
	fi
	[ "$KEEP_LOGS" = 1 ] || rm -f "$W/$name.jsonl" "$W/$name.txt" "$W/$name.gnmap" "$W/$name.out"
	return 0
}

fmt_row() { printf '%-8s %-10s %8s %8s %8s %8s %9s %9s\n' "$@"; }

# ---------------------------------------------------------------- 1. sweep of the /16

bench_sweep() {
	local tools=(darkwatch) t m r key ok
	for t in zmap masscan nmap fping; do use "$t" && tools+=("$t"); done
	awk 'BEGIN {for (i = 0; i < 65536; i++) printf "198.18.%d.%d\n", int(i / 256), i % 256}' >"$ALL16"
	head -n 32768 "$ALL16" >"$ALL16.a"
	tail -n 32768 "$ALL16" >"$ALL16.b"
	for ((r = 1; r <= REPEAT; r++)); do
		for m in icmp tcp; do
			for t in "${tools[@]}"; do
				[ "$t" = fping ] && [ "$m" = tcp ] && continue
				say "sweep 198.18.0.0/16 $m: $t (run $r/$REPEAT)"
				ok=1
				sweep_run "$t" "$m" 198.18.0.0/16 "sweep-$t-$m-$r" || ok=0
				record "sweep|$t|$m" "$r" "$N16" "$ok"
			done
		done
	done

	echo
	echo "== 1. Sweep of 198.18.0.0/16 (65,536 addresses, all answer) from vp1"
	echo "   cooldown ${COOLDOWN} s for every tool; rate $([ "$RATE" = 0 ] && echo "as fast as each goes" || echo "$RATE pps");" \
		"median of $REPEAT run(s); dw/tool = darkwatch wall time / tool wall time"
	fmt_row method tool wall_s hits hit_% rss_MB dw/tool rx@vp1
	local dwwall w h rss rx label
	for m in icmp tcp; do
		label=$m
		[ "$m" = tcp ] && label=tcp:80
		dwwall=$(med "sweep|darkwatch|$m" R_WALL)
		for t in "${tools[@]}"; do
			[ "$t" = fping ] && [ "$m" = tcp ] && continue
			key="sweep|$t|$m"
			w=$(med "$key" R_WALL) h=$(med "$key" R_HITS) rss=$(med "$key" R_RSS) rx=$(med "$key" R_RX)
			if [ "${R_OK[$key]:-0}" != 1 ]; then
				fmt_row "$label" "$t" FAILED - - - - "${rx:--}"
				jl kind=row workload=sweep tool="$t" method="$m" status=failed
				continue
			fi
			fmt_row "$label" "$t" "$w" "$h" "$(pct "$h" "$N16")" "$(mb "$rss")" "$(div "$dwwall" "$w")" "$rx"
			jl kind=row workload=sweep tool="$t" method="$m" targets=$N16 runs="$REPEAT" wall_s="$w" \
				hits="$h" hit_pct="$(pct "$h" "$N16")" rss_kb="$rss" rx_packets="$rx" \
				darkwatch_ratio="$(div "$dwwall" "$w" %.3f)"
		done
	done
	echo "   rx@vp1: packets vp1's interface received during the run (replies that reached the vantage,"
	echo "   ARP and the like included): hits below it were lost inside the tool, not the network."
}

# ---------------------------------------------------------------- 2. memory flatness

bench_memory() {
	local r ok key16="sweep|darkwatch|icmp" key15="memory|darkwatch|icmp15"
	if [ -z "${R_WALL[$key16]:-}" ]; then
		key16="memory|darkwatch|icmp16"
		for ((r = 1; r <= REPEAT; r++)); do
			say "memory: darkwatch icmp 198.18.0.0/16 (run $r/$REPEAT)"
			ok=1
			sweep_run darkwatch icmp 198.18.0.0/16 "memory-16-$r" || ok=0
			record "$key16" "$r" "$N16" "$ok"
		done
	fi
	for ((r = 1; r <= REPEAT; r++)); do
		say "memory: darkwatch icmp 198.18.0.0/15 (run $r/$REPEAT)"
		ok=1
		sweep_run darkwatch icmp 198.18.0.0/15 "memory-15-$r" || ok=0
		record "$key15" "$r" 131072 "$ok"
	done

	echo
	echo "== 2. Memory flatness: darkwatch ICMP sweep, /16 (all answer) against /15 (half answer:"
	echo "   198.19.0.0/16 is silent but for the canary's 198.19.255.0/24), median of $REPEAT run(s)"
	printf '%-16s %9s %8s %8s %8s %8s\n' targets addresses hits hit_% wall_s rss_MB
	local k n p w h rss
	for k in "$key16:65536:198.18.0.0/16" "$key15:131072:198.18.0.0/15"; do
		IFS=: read -r key n p <<<"$k"
		if [ "${R_OK[$key]:-0}" != 1 ]; then
			printf '%-16s %9s %8s\n' "$p" "$n" FAILED
			continue
		fi
		w=$(med "$key" R_WALL) h=$(med "$key" R_HITS) rss=$(med "$key" R_RSS)
		printf '%-16s %9s %8s %8s %8s %8s\n' "$p" "$n" "$h" "$(pct "$h" "$n")" "$w" "$(mb "$rss")"
		jl kind=row workload=memory tool=darkwatch method=icmp targets="$n" prefix="$p" runs="$REPEAT" \
			wall_s="$w" hits="$h" rss_kb="$rss"
	done
	if [ "${R_OK[$key16]:-0}" = 1 ] && [ "${R_OK[$key15]:-0}" = 1 ]; then
		echo "   peak RSS /15 ÷ /16: $(div "$(med "$key15" R_RSS)" "$(med "$key16" R_RSS)") (twice the addresses)"
	fi
}

# ---------------------------------------------------------------- 3. 1024 traces

bench_trace() {
	local list="$W/trace-targets.txt" r i ok
	# 1024 addresses: /24 number i mod 256, host in one of four bands of the /24 —
	# every /24 of the /16 four times, no address twice.
	for ((i = 0; i < 1024; i++)); do
		echo "198.18.$((i & 255)).$((1 + (i >> 8) * 60 + (i * 13) % 59))"
	done >"$list"
	local dwrate=${DW_TRACE_PPS:-0} scrate=$TRACE_PPS
	[ "$scrate" = 0 ] && scrate=10000
	[ "$scrate" -gt 10000 ] && scrate=10000 # scamper: 1 <= pps <= 10000
	local kd="trace|darkwatch|trace" ks="trace|scamper|trace" name
	for ((r = 1; r <= REPEAT; r++)); do
		say "trace: 1024 targets, darkwatch (run $r/$REPEAT)"
		name="trace-darkwatch-$r"
		warm
		rm -f "$W/$name.jsonl"
		timed "$name" ip netns exec "$VP" "$DW" --allow 198.18.0.0/15 --vantage vp1 \
			sweep --targets "@$list" --method trace --rate "$dwrate" \
			--per-block-rate "$PER_BLOCK_RATE" --lock "$W/darkwatch.lock" --out "$W/$name.jsonl"
		HITS=0 PPS="" SELF="" ok=0
		if [ "$T_RC" -le 1 ] && [ -s "$W/$name.jsonl" ]; then
			ok=1
			HITS=$({ jq -r 'select(.method == "trace" and .reached == true) | .target' "$W/$name.jsonl" || true; } | uniq_count)
			{ jq -r 'select(.method == "trace") | [.target,
				([(.hops // [])[] | select(.addr != "") | {t: .ttl, a: .addr}] | group_by(.t)
				 | map("\(.[0].t):" + (map(.a) | unique | join("|"))) | join(" "))] | @tsv' \
				"$W/$name.jsonl" || true; } | sort >"$W/trace-darkwatch.tsv"
		else
			fail "$name" "darkwatch trace of 1024 targets"
		fi
		record "$kd" "$r" 1024 "$ok"

		if use scamper; then
			say "trace: 1024 targets, scamper (run $r/$REPEAT)"
			name="trace-scamper-$r"
			warm
			rm -f "$W/$name.json"
			timed "$name" ip netns exec "$VP" scamper -c "trace -P icmp-paris -q 1" -p "$scrate" \
				-O json -o "$W/$name.json" -f "$list"
			HITS=0 ok=0
			if [ "$T_RC" = 0 ] && [ -s "$W/$name.json" ]; then
				ok=1
				HITS=$({ jq -r 'select(.type == "trace" and .stop_reason == "COMPLETED") | .dst' "$W/$name.json" || true; } | uniq_count)
				{ jq -r 'select(.type == "trace") | [.dst,
					([(.hops // [])[] | {t: .probe_ttl, a: .addr}] | group_by(.t)
					 | map("\(.[0].t):" + (map(.a) | unique | join("|"))) | join(" "))] | @tsv' \
					"$W/$name.json" || true; } | sort >"$W/trace-scamper.tsv"
			else
				fail "$name" "scamper trace of 1024 targets"
			fi
			record "$ks" "$r" 1024 "$ok"
		fi
	done

	echo
	echo "== 3. 1024 Paris ICMP traces over 198.18.0.0/16 (4 targets in each /24), from vp1"
	echo "   darkwatch --rate $dwrate --per-block-rate $PER_BLOCK_RATE, scamper -p $scrate" \
		"(both: packets per second); median of $REPEAT run(s)"
	printf '%-10s %8s %8s %8s %8s %8s\n' tool wall_s reached rss_MB dw/tool rx@vp1
	local dwwall t key w
	dwwall=$(med "$kd" R_WALL)
	for t in darkwatch scamper; do
		[ "$t" = scamper ] && ! use scamper && continue
		key="trace|$t|trace"
		if [ "${R_OK[$key]:-0}" != 1 ]; then
			printf '%-10s %8s\n' "$t" FAILED
			continue
		fi
		w=$(med "$key" R_WALL)
		printf '%-10s %8s %8s %8s %8s %8s\n' "$t" "$w" "$(med "$key" R_HITS)" "$(mb "$(med "$key" R_RSS)")" \
			"$(div "$dwwall" "$w")" "$(med "$key" R_RX)"
		jl kind=row workload=trace tool="$t" targets=1024 runs="$REPEAT" wall_s="$w" \
			reached="$(med "$key" R_HITS)" rss_kb="$(med "$key" R_RSS)" rx_packets="$(med "$key" R_RX)" \
			darkwatch_ratio="$(div "$dwwall" "$w" %.3f)"
	done
	if [ "${R_OK[$kd]:-0}" = 1 ] && [ "${R_OK[$ks]:-0}" = 1 ]; then
		echo "   darkwatch ÷ scamper wall time: $(div "$dwwall" "$(med "$ks" R_WALL)" %.3f) (median of $REPEAT; goal: at most 0.5)"
	fi
	echo "   rx@vp1: replies vp1 received (time-exceeded from the routers, echo replies from the"
	echo "   target): how many probes each tool spends on a trace."
	if [ "${R_OK[$kd]:-0}" = 1 ] && [ "${R_OK[$ks]:-0}" = 1 ]; then
		# Last run of each: per target, the hop list "ttl:addr ..." (non-answering hops left out).
		join -t $'\t' -a1 -a2 -e '<none>' -o 0,1.2,2.2 "$W/trace-darkwatch.tsv" "$W/trace-scamper.tsv" >"$W/trace-joined.tsv"
		local both same
		both=$(awk -F'\t' '$2 != "<none>" && $3 != "<none>"' "$W/trace-joined.tsv" | wc -l)
		same=$(awk -F'\t' '$2 != "<none>" && $2 == $3' "$W/trace-joined.tsv" | wc -l)
		# Differing lists where every "ttl:addr" of scamper's is also darkwatch's: hops
		# that scamper sent a probe for but took no answer to (the rest are true differences).
		local fewer
		fewer=$(awk -F'\t' '$2 != "<none>" && $3 != "<none>" && $2 != $3 {
			n = split($2, d, " "); delete have; for (i = 1; i <= n; i++) have[d[i]] = 1
			m = split($3, s, " "); sub_ = 1; for (i = 1; i <= m; i++) if (!(s[i] in have)) sub_ = 0
			c += sub_ } END {print c + 0}' "$W/trace-joined.tsv")
		echo "   identical hop lists: $same of $both targets traced by both ($(pct "$same" "$both")%);" \
			"of the $((both - same)) others, $fewer lack only hops scamper took no answer from"
		jl kind=row workload=trace comparison=hops targets_both="$both" identical="$same" scamper_fewer="$fewer"
		if [ "$same" != "$both" ]; then
			echo "   differences (target, darkwatch, scamper), first 5 of $W/trace-joined.tsv:"
			awk -F'\t' '$2 != $3 && n++ < 5 {print "     " $0}' "$W/trace-joined.tsv"
			KEEP_LOGS=1
		else
			echo "   e.g. $(head -n 1 "$W/trace-joined.tsv" | cut -f1,2 | tr '\t' ' ')"
		fi
	fi
	[ "$KEEP_LOGS" = 1 ] || rm -f "$W"/trace-darkwatch-*.jsonl "$W"/trace-scamper-*.json
}

# ---------------------------------------------------------------- 4. achieved rate

bench_rate() {
	local spec rate target n r key ok
	local specs=("1000:198.18.0.0/20:4096" "10000:198.18.0.0/16:65536" "100000:198.18.0.0/16:65536")
	for ((r = 1; r <= REPEAT; r++)); do
		for spec in "${specs[@]}"; do
			IFS=: read -r rate target n <<<"$spec"
			say "rate: darkwatch icmp $target at $rate pps (run $r/$REPEAT)"
			key="rate|darkwatch|icmp@$rate"
			ok=1
			RATE_OVERRIDE=$rate
			sweep_run darkwatch icmp "$target" "rate-$rate-$r" || ok=0
			record "$key" "$r" "$n" "$ok"
			RATE_OVERRIDE=
		done
	done

	echo
	echo "== 4. Achieved against requested rate: darkwatch ICMP sweep (achieved = its summary line),"
	echo "   --per-block-rate $PER_BLOCK_RATE, median of $REPEAT run(s)"
	printf '%-16s %13s %13s %7s %8s %8s\n' targets requested_pps achieved_pps ratio wall_s hits
	local p
	for spec in "${specs[@]}"; do
		IFS=: read -r rate target n <<<"$spec"
		key="rate|darkwatch|icmp@$rate"
		if [ "${R_OK[$key]:-0}" != 1 ]; then
			printf '%-16s %13s %13s\n' "$target" "$rate" FAILED
			continue
		fi
		p=$(med "$key" R_PPS)
		printf '%-16s %13s %13s %7s %8s %8s\n' "$target" "$rate" "$p" "$(div "$p" "$rate" %.3f)" \
			"$(med "$key" R_WALL)" "$(med "$key" R_HITS)"
		jl kind=row workload=rate tool=darkwatch method=icmp prefix="$target" targets="$n" runs="$REPEAT" \
			requested_pps="$rate" achieved_pps="$p" ratio="$(div "$p" "$rate" %.4f)" \
			wall_s="$(med "$key" R_WALL)" hits="$(med "$key" R_HITS)"
	done
}

# ---------------------------------------------------------------- 5. bgp dump against bgpdump -m
#
# It times darkwatch bgp dump and bgpdump -m on the largest MRT file of
# testdata/mrt (no network, no lab), and counts identical lines and identical
# (time, type, peer, peer AS, prefix, AS path) tuples — the test data's own criterion.
bench_bgp_dump() {
	echo
	echo "== 5. darkwatch bgp dump against bgpdump -m"
	if ! "$DW" bgp dump --help 2>/dev/null | grep -qE '^[[:space:]]*darkwatch bgp dump( |$)'; then
		echo "   skipped: bin/darkwatch has no 'bgp dump' subcommand yet"
		jl kind=row workload=bgp status=skipped reason="no darkwatch bgp dump"
		return 0
	fi
	local dir="$REPO/testdata/mrt" file
	file=$(find "$dir" -maxdepth 1 -type f -printf '%s %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2-)
	if [ -z "$file" ]; then
		echo "   FAILED: no MRT file in $dir (the repository's test data)"
		FAILED=$((FAILED + 1))
		jl kind=row workload=bgp status=failed reason="no MRT file"
		return 0
	fi
	if ! command -v bgpdump >/dev/null 2>&1; then
		say "installing bgpdump with apt-get"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bgpdump >/dev/null 2>&1 ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bgpdump >/dev/null; } ||
			{ echo "   skipped: bgpdump is not installed and apt-get install bgpdump failed"; FAILED=$((FAILED + 1)); return 0; }
	fi
	local r ok kd="bgp|darkwatch|dump" kb="bgp|bgpdump|dump"
	for ((r = 1; r <= REPEAT; r++)); do
		say "bgp: darkwatch bgp dump $(basename "$file") (run $r/$REPEAT)"
		timed "bgp-darkwatch-$r" "$DW" bgp dump "$file"
		HITS=$(wc -l <"$W/bgp-darkwatch-$r.out") T_RX=0 PPS="" SELF="" ok=1
		[ "$T_RC" = 0 ] || { ok=0; fail "bgp-darkwatch-$r" "darkwatch bgp dump"; }
		record "$kd" "$r" 0 "$ok"
		say "bgp: bgpdump -m $(basename "$file") (run $r/$REPEAT)"
		timed "bgp-bgpdump-$r" bgpdump -m "$file"
		HITS=$(wc -l <"$W/bgp-bgpdump-$r.out") T_RX=0 ok=1
		[ "$T_RC" = 0 ] || { ok=0; fail "bgp-bgpdump-$r" "bgpdump -m"; }
		record "$kb" "$r" 0 "$ok"
	done
	echo "   file: $file ($(stat -c %s "$file") bytes), median of $REPEAT run(s)"
	printf '%-10s %8s %9s %8s %8s\n' tool wall_s lines rss_MB dw/tool
	local dwwall t key w
	dwwall=$(med "$kd" R_WALL)
	for t in darkwatch bgpdump; do
		key="bgp|$t|dump"
		[ "${R_OK[$key]:-0}" = 1 ] || { printf '%-10s %8s\n' "$t" FAILED; continue; }
		w=$(med "$key" R_WALL)
		printf '%-10s %8s %9s %8s %8s\n' "$t" "$w" "$(med "$key" R_HITS)" "$(mb "$(med "$key" R_RSS)")" "$(div "$dwwall" "$w")"
		jl kind=row workload=bgp tool="$t" file="$(basename "$file")" runs="$REPEAT" wall_s="$w" \
			lines="$(med "$key" R_HITS)" rss_kb="$(med "$key" R_RSS)" darkwatch_ratio="$(div "$dwwall" "$w" %.3f)"
	done
	if [ "${R_OK[$kd]:-0}" = 1 ] && [ "${R_OK[$kb]:-0}" = 1 ]; then
		local a="$W/bgp-darkwatch-$REPEAT.out" b="$W/bgp-bgpdump-$REPEAT.out" same tup total
		total=$(wc -l <"$b")
		same=$(comm -12 <(sort "$a") <(sort "$b") | wc -l)
		tup=$(comm -12 <(cut -d'|' -f2-7 "$a" | sort) <(cut -d'|' -f2-7 "$b" | sort) | wc -l)
		echo "   identical lines: $same of $total; identical (time,type,peer,AS,prefix,path): $tup of $total"
		jl kind=row workload=bgp comparison=lines bgpdump_lines="$total" identical_lines="$same" identical_tuples="$tup"
	fi
}

# ---------------------------------------------------------------- Go benchmarks

bench_go() {
	echo
	echo "== Go benchmarks: go test -run '^\$' -bench . -benchmem ./probe/ ./schedule/ ./results/ ./results/store/ ./results/bgp/ ./results/transport/"
	command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
	if ! command -v go >/dev/null 2>&1; then
		echo "   skipped: no Go toolchain on PATH"
		return 0
	fi
	say "go test -bench . ./probe/ ./schedule/ ./results/... (the collector benchmark runs 60 s)"
	set +e
	CGO_ENABLED=0 go test -run '^$' -bench . -benchmem ./probe/ ./schedule/ ./results/ ./results/store/ ./results/bgp/ ./results/transport/ >"$W/gobench.out" 2>&1
	local rc=$?
	set -e
	grep -E '^(Benchmark|pkg:|cpu:)' "$W/gobench.out" | sed 's/^/   /' || true
	awk '/^pkg:/ {pkg = $2} /^Benchmark/ {
		line = "{\"kind\":\"gobench\",\"pkg\":\"" pkg "\",\"name\":\"" $1 "\",\"iterations\":" $2
		for (i = 3; i < NF; i++) {
			u = $(i + 1)
			if (u == "ns/op") line = line ",\"ns_op\":" $i
			if (u == "B/op") line = line ",\"bytes_op\":" $i
			if (u == "allocs/op") line = line ",\"allocs_op\":" $i
			if (u == "records/s") line = line ",\"records_s\":" $i
		}
		print line "}" }' "$W/gobench.out" >>"$BENCH_OUT"
	if [ "$rc" != 0 ]; then
		FAILED=$((FAILED + 1))
		echo "   go test failed (exit status $rc); its output is in $W/gobench.out:"
		awk '!/^(Benchmark|goos|goarch|pkg|cpu|PASS|ok)/ && n++ < 10 {print "     " $0}' "$W/gobench.out"
	fi
}

# ---------------------------------------------------------------- 6. the HTML report at scale
#
# It runs BenchmarkHTMLReport65536 (results/report): the HTML report of 65,536
# made-up targets in 198.18.0.0/15 (nothing probed), written REPORT_RUNS times
# and loaded as often in headless Chromium (--dump-dom, a fresh profile each
# time). The goals: under 10 MB, the first table page in under 5 s.
bench_report() {
	echo
	echo "== 6. HTML report of 65,536 targets (3 vantages; 544 prefix and block, 4 AS and 1 country timelines)"
	command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
	if ! command -v go >/dev/null 2>&1; then
		echo "   skipped: no Go toolchain on PATH"
		return 0
	fi
	local runs=${REPORT_RUNS:-3} rc
	say "report: go test -bench HTMLReport65536 -benchtime ${runs}x ./results/report/"
	set +e
	CGO_ENABLED=0 go test -run '^$' -bench 'HTMLReport65536' -benchtime "${runs}x" ./results/report/ >"$W/report-bench.out" 2>&1
	rc=$?
	set -e
	# "BenchmarkHTMLReport65536/write-2  3  6221100736 ns/op  6.451 MB" and
	# ".../chromium-2  3  21327085632 ns/op  6.451 MB  3342 page-ms"
	local line size="-" write="-" load="-" page="-"
	line=$(grep -E '^BenchmarkHTMLReport65536/write' "$W/report-bench.out" || true)
	[ -n "$line" ] && read -r size write < <(awk '{for (i = 1; i < NF; i++) {if ($(i+1) == "MB") m = $i; if ($(i+1) == "ns/op") t = $i / 1e9}} END {printf "%s %.2f\n", m, t}' <<<"$line")
	line=$(grep -E '^BenchmarkHTMLReport65536/chromium' "$W/report-bench.out" || true)
	[ -n "$line" ] && read -r load page < <(awk '{for (i = 1; i < NF; i++) {if ($(i+1) == "ns/op") t = $i / 1e9; if ($(i+1) == "page-ms") p = $i}} END {printf "%.2f %s\n", t, p}' <<<"$line")
	printf '%-10s %9s %9s %12s %11s\n' targets size_MB write_s chromium_s page_s
	local pages=-
	[ "$page" != - ] && pages=$(div "$page" 1000)
	printf '%-10s %9s %9s %12s %11s\n' 65536 "$size" "$write" "$load" "$pages"
	echo "   mean of $runs run(s) on $(nproc) cores; chromium_s: chromium --headless --dump-dom, browser start"
	echo "   included; page_s: the page's own time from navigation to its first table page (goal < 5 s)"
	jl kind=row workload=report targets=65536 runs="$runs" size_mb="$size" write_s="$write" chromium_s="$load" page_ms="$page"
	if [ "$rc" != 0 ] || [ "$size" = - ]; then
		FAILED=$((FAILED + 1))
		echo "   go test failed (exit status $rc); its output is in $W/report-bench.out:"
		grep -vE '^\s*\[' "$W/report-bench.out" | tail -n 10 | sed 's/^/     /'
	fi
}

# ---------------------------------------------------------------- main

echo "darkwatch bench: $DW_VERSION; $(nproc) cores, $(uname -r); cooldown ${COOLDOWN} s," \
	"rate ${RATE} (0 = max), repeat ${REPEAT}${SKIP_TOOLS:+, skipping $SKIP_TOOLS}"
if want sweep; then bench_sweep; fi
if want memory; then bench_memory; fi
if want trace; then bench_trace; fi
if want rate; then bench_rate; fi
if want bgp; then bench_bgp_dump; fi
if want gobench; then bench_go; fi
if want report; then bench_report; fi

T_TOTAL=$(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}')
jl kind=end total_s="$T_TOTAL" failed="$FAILED"
echo
echo "bench: done in ${T_TOTAL} s; raw figures in $BENCH_OUT"
if [ "$FAILED" != 0 ]; then
	echo "bench: $FAILED measurement(s) failed; logs in $W" >&2
	exit 1
fi
