#!/usr/bin/env bash
# ipckeys fleet beside jq reading the same reports. From real scans of a
# generated set of key files (ENTRIES files, ipckeys scan -p l -o json),
# N host reports are written: most hosts are clean; every 10th has one key
# file of another inode (its key differs from most hosts'); every 50th has
# two key files that are one file (a key collision: the host fails); every
# 101st host's scan failed and every 103rd could not be reached (a
# HOST.failed marker: not checked). Then, alternately, RUNS times each:
#   ipckeys fleet -o json=/dev/null -o html=/dev/null DIR
#   jq -c '.summary' DIR/*.json >/dev/null
# and the medians of wall time and of peak memory (the largest resident
# set, /usr/bin/time -v) are printed with their ratio.
#
# usage: bench/fleet.sh [N]... (default 1000 10000)
# environment: ENTRIES (entries per host, default 1000), RUNS (default 3),
# IPCKEYS_BENCH_IPCKEYS=PATH to measure another build.
# 10,000 hosts of 1,000 entries take about 4 GB of /tmp.
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."
entries=${ENTRIES:-1000}
runs=${RUNS:-3}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000)

if ! command -v jq >/dev/null; then
	apt-get install -y -qq jq >/dev/null || { echo "bench/fleet.sh: jq is missing and apt-get could not install it" >&2; exit 2; }
fi
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null || { echo "bench/fleet.sh: /usr/bin/time is missing: apt-get install time" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "${IPCKEYS_BENCH_IPCKEYS:-}" ]; then
	cp "$IPCKEYS_BENCH_IPCKEYS" "$tmp/ipckeys"
else
	go build -o "$tmp/ipckeys" ./cmd/ipckeys
fi
ipckeys=$tmp/ipckeys

# The three reports every host's is one of: clean, another inode, a
# collision. The key files live under one path so every report names the
# same channels.
keys=$tmp/keys
mkdir "$keys"
for i in $(seq -w 1 "$entries"); do echo "$i" >"$keys/k$i"; done
first=$(ls "$keys" | head -1)
last=$(ls "$keys" | tail -1)
scan() { "$ipckeys" scan -p l --label HOSTNAME -o json "$keys"/k* >"$1" || [ $? = 1 ]; }
scan "$tmp/clean.json"
mv "$keys/$first" "$keys/$first.old" && cp "$keys/$first.old" "$keys/$first" && rm "$keys/$first.old"
scan "$tmp/inode.json"
rm "$keys/$last" && ln "$keys/$first" "$keys/$last"
scan "$tmp/collision.json"

generate() { # N DIR
	local n=$1 dir=$2 i name base
	mkdir -p "$dir"
	for ((i = 1; i <= n; i++)); do
		name=$(printf 'host%05d' "$i")
		if ((i % 101 == 0)); then
			echo "ipckeys: deploy/app.manifest:3: field 3 (proj): proj id \"lx\" is not a proj id" >"$dir/$name.failed"
			continue
		elif ((i % 103 == 0)); then
			echo "unreachable: Failed to connect to the host via ssh: Connection refused" >"$dir/$name.failed"
			continue
		fi
		base=clean
		((i % 10 == 0)) && base=inode
		((i % 50 == 0)) && base=collision
		sed -e "s/\"label\": \"HOSTNAME\"/\"label\": \"$name\"/" \
			-e "s/\"machine_id\": \"[0-9a-f]*\"/\"machine_id\": \"$(printf '%032x' "$i")\"/" \
			"$tmp/$base.json" >"$dir/$name.json"
	done
}

# measure OUT CMD...: wall seconds and peak resident KiB, one line.
measure() {
	local out=$1
	shift
	/usr/bin/time -v -o "$out" "$@" >/dev/null 2>&1 || true
	awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; wall = s }
		/Maximum resident set size/ { rss = $2 }
		END { printf "%.2f %d\n", wall, rss }' "$out"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "$("$ipckeys" version | head -1), jq $(jq --version), $(nproc) cores, $entries entries per host, $runs runs, medians"
printf '%8s %10s %12s %10s %12s %8s\n' hosts "fleet s" "fleet MiB" "jq s" "jq MiB" "ratio"
for n in "${sizes[@]}"; do
	dir=$tmp/fleet-$n
	generate "$n" "$dir"
	fw=() fm=() jw=() jm=()
	for ((r = 0; r < runs; r++)); do
		read -r w m < <(measure "$tmp/time" "$ipckeys" fleet -o json=/dev/null -o html=/dev/null "$dir")
		fw+=("$w") fm+=("$m")
		read -r w m < <(measure "$tmp/time" sh -c 'jq -c .summary "$@" >/dev/null' jq "$dir"/*.json)
		jw+=("$w") jm+=("$m")
	done
	f=$(printf '%s\n' "${fw[@]}" | median)
	j=$(printf '%s\n' "${jw[@]}" | median)
	printf '%8d %10s %12d %10s %12d %8.2f\n' "$n" "$f" $(($(printf '%s\n' "${fm[@]}" | median) / 1024)) \
		"$j" $(($(printf '%s\n' "${jm[@]}" | median) / 1024)) "$(echo "$f $j" | awk '{ print ($2 > 0 ? $1 / $2 : 0) }')"
	rm -rf "$dir"
done
