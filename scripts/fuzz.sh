#!/usr/bin/env bash
# Runs every Go fuzz target of the module (every `func Fuzz*` in a
# *_test.go file) for FUZZTIME each and prints a table: package, target,
# seconds fuzzed, executions, executions per second, new interesting inputs
# and the result (ok, or FAIL with the crasher's path or the log to read).
# Exits 1 if any target fails. `make fuzz` and `make test` run it.
#
#   bash scripts/fuzz.sh                  # every target, FUZZTIME each
#   FUZZTIME=3s bash scripts/fuzz.sh      # the short run make test does
#   bash scripts/fuzz.sh 'Tokenizer|eval' # targets whose "pkg FuzzName" matches
#
# Environment:
#   FUZZTIME          time (or count, "1000x") per target; default 60s
#   FUZZMINIMIZETIME  budget to minimize a new or crashing input; default 1s
#                     (go's default, 60s, can spend a whole run on one input;
#                     rerun a crasher with go test -fuzz to minimize it more)
#   FUZZPARALLEL      fuzzing workers per target; default: go's (GOMAXPROCS)
#   FUZZCACHEDIR      where new interesting inputs are kept between runs;
#                     default go's ($GOCACHE/fuzz)
#   GO                the go command; default go
#
# Each package's test binary is built once (go test -c -fuzz=.) and run in
# the package folder, as go test would, with go's own fuzz cache, so a
# crasher lands in <pkg>/testdata/fuzz/<Target>/ and `go test -run` replays
# it. A target that gives no result within 3 x FUZZTIME + 120 s is reported
# as a hang.
set -uo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
fuzztime=${FUZZTIME:-60s}
minimizetime=${FUZZMINIMIZETIME:-1s}
filter=${1:-}

# seconds prints a Go duration ("1m30s", "500ms", "3s") in whole seconds
# (rounded up), or nothing for a count ("1000x").
seconds() {
	awk -v d="$1" 'BEGIN {
		if (d ~ /x$/) exit
		t = 0
		while (match(d, /^[0-9.]+(ns|us|µs|ms|s|m|h)/)) {
			tok = substr(d, 1, RLENGTH); d = substr(d, RLENGTH + 1)
			match(tok, /^[0-9.]+/); v = substr(tok, 1, RLENGTH) + 0; u = substr(tok, RLENGTH + 1)
			if (u == "h") t += v * 3600; else if (u == "m") t += v * 60; else if (u == "s") t += v
			else if (u == "ms") t += v / 1e3; else t += v / 1e9
		}
		printf "%d\n", (t == int(t)) ? t : int(t) + 1
	}'
}

fuzzsec=$(seconds "$fuzztime")
limit=$(( ${fuzzsec:-60} * 3 + 120 ))
module=$($GO list -m) || exit 1
cache=${FUZZCACHEDIR:-$($GO env GOCACHE)/fuzz}
work=$(mktemp -d "${TMPDIR:-/tmp}/gollm-fuzz.XXXXXX") || exit 1
mkdir -p "$work/bin" "$work/logs"
keep_logs=0
trap '[ "$keep_logs" = 1 ] && rm -rf "$work/bin" || rm -rf "$work"' EXIT

parallel=()
[ -n "${FUZZPARALLEL:-}" ] && parallel=(-test.parallel="$FUZZPARALLEL")

# The targets, as "dir name" lines in file order.
targets=$(grep -rn --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*(' . |
	grep -v -e '^\./testdata/' -e '/testdata/' -e '^\./\.git/' |
	sed -E 's#^\./(.*)/[^/]+_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#' | sort -s -k1,1)
if [ -n "$filter" ]; then
	targets=$(grep -E -- "$filter" <<<"$targets")
fi
if [ -z "$targets" ]; then
	echo "fuzz.sh: no fuzz targets match '$filter'" >&2
	exit 1
fi

echo "fuzz.sh: $(wc -l <<<"$targets") targets, FUZZTIME=$fuzztime, FUZZMINIMIZETIME=$minimizetime${FUZZPARALLEL:+, FUZZPARALLEL=$FUZZPARALLEL}; $(date -u '+%Y-%m-%d %H:%M UTC'); $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'); $($GO version)"

rows=()
failed=0
built=""
declare -A buildok
while read -r dir name; do
	bin="$work/bin/${dir//\//_}.test"
	if [[ " $built " != *" $dir "* ]]; then
		built="$built $dir"
		if $GO test -c -fuzz=. -o "$bin" "./$dir" >"$work/logs/${dir//\//_}.build.log" 2>&1; then
			buildok[$dir]=1
		else
			buildok[$dir]=0
			echo "fuzz.sh: building ./$dir failed:" >&2
			tail -n 20 "$work/logs/${dir//\//_}.build.log" >&2
		fi
	fi
	log="$work/logs/${dir//\//_}.$name.log"
	if [ "${buildok[$dir]}" != 1 ]; then
		rows+=("$dir|$name|-|-|-|-|FAIL (build: see above)")
		failed=1
		continue
	fi
	printf '== %-20s %-24s ' "$dir" "$name"
	(cd "$dir" && timeout -k 10 "$limit" "$bin" -test.run='^$' -test.fuzz="^$name\$" \
		-test.fuzztime="$fuzztime" -test.fuzzminimizetime="$minimizetime" \
		-test.fuzzcachedir="$cache/$module/$dir" "${parallel[@]}") >"$log" 2>&1
	rc=$?
	# The last progress line: fuzz: elapsed: 1m0s, execs: 123 (4/sec), new interesting: 5 (total: 9)
	last=$(grep -E '^fuzz: elapsed: [^,]+, execs: [0-9]+' "$log" | tail -n 1)
	el=$(sed -E 's/^fuzz: elapsed: ([^,]+),.*/\1/' <<<"$last")
	execs=$(sed -E 's/.*, execs: ([0-9]+).*/\1/' <<<"$last")
	newi=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
	sec=$(seconds "${el:-0s}")
	rate=-
	if [ -n "$last" ] && [ "${sec:-0}" -gt 0 ]; then
		rate=$(( execs / sec ))
	fi
	crash=$(sed -nE 's/.*Failing input written to (.*)$/\1/p' "$log" | tail -n 1)
	if [ "$rc" = 0 ] && [ -n "$last" ]; then
		result=ok
	elif [ -n "$last" ] && [ -z "$crash" ] && grep -q 'context deadline exceeded' "$log" \
		&& ! grep -qE 'panic:|fatal error|Failing input|hung or terminated' "$log"; then
		# Go's fuzz engine sometimes reports the end of -fuzztime itself as
		# "context deadline exceeded" (an input in flight when the time ran
		# out) with no failing input: not a finding of the target.
		result="ok (go reported the fuzztime deadline; no failing input)"
	else
		failed=1
		keep_logs=1
		if [ -n "$crash" ]; then
			result="FAIL $dir/$crash"
		elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			result="FAIL (hang: no result in ${limit}s; log $log)"
		elif [ "$rc" = 0 ]; then
			result="FAIL (did not fuzz; log $log)"
		else
			result="FAIL (exit $rc; log $log)"
		fi
	fi
	echo "${result%% *} ${execs:-0} execs in ${el:--}"
	if [ "${result%% *}" != ok ]; then
		sed -n '/--- FAIL\|panic:\|fatal error\|hung/,+20p' "$log" | head -n 40 | sed 's/^/    /'
	fi
	rows+=("$dir|$name|${sec:--}|${execs:--}|$rate|${newi:--}|$result")
done <<<"$targets"

echo
{
	echo "package|target|seconds|execs|execs/s|new interesting|result"
	printf '%s\n' "${rows[@]}"
} | awk -F'|' '
	{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; nf = NF }
	END {
		for (r = 1; r <= n; r++) {
			line = ""
			for (i = 1; i <= nf; i++) {
				f = (i >= 3 && i <= 6) ? "%" w[i] "s" : "%-" w[i] "s"
				line = line (i > 1 ? "  " : "") sprintf(f, cell[r, i])
			}
			sub(/ +$/, "", line); print line
		}
	}'
if [ "$failed" != 0 ]; then
	echo "fuzz.sh: some targets failed; logs in $work/logs" >&2
	exit 1
fi
