#!/usr/bin/env bash
# Scale benchmarks of `ipckeys scan`, side by side in one run on one machine:
#
#   1. one directory of 100,000 empty files (more files than the 65,536
#      inode bit patterns a key keeps, so keys collide by pigeonhole):
#      `ipckeys scan --no-live -p l 'DIR/*' -o json` and `-o text` against
#      bench/ftokloop.c, which globs the same pattern and calls the C
#      library's ftok on every path and does nothing else;
#   2. a manifest of 1,000,000 distinct channels with distinct keys: 4,000
#      files (no two with the same inode low 16 bits) each with proj ids 1
#      to 250: `ipckeys scan --no-live -m MANIFEST -o json` and `-o text`
#      (ipckeys alone; the target is peak memory);
#   3. once, a manifest of 1,000,000 channels that collide a lot: the
#      100,000 files each with proj ids 1 to 10 (about 80,000 key
#      collisions, a report of 1.2 GB): memory grows with the findings.
#
# Wall times are medians of RUNS runs (ipckeys and the C loop alternate);
# peak memory is the largest resident set of any run (GNU time's %M).
# Output goes to /dev/null. The files are made under DIR (default: a new
# directory in $TMPDIR, removed at the end); the filesystem matters: ext4
# spreads inode numbers differently from tmpfs.
#
# usage: bench/scale.sh [RUNS] [DIR]   (default 5 runs)
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."
runs=${1:-5}
[ -x /usr/bin/time ] || { echo "bench/scale.sh: needs GNU time (/usr/bin/time, Debian package time)" >&2; exit 2; }

bin=$(mktemp -d)
work=${2:-}
if [ -z "$work" ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$bin" "$work"' EXIT
else
	mkdir -p "$work"
	trap 'rm -rf "$bin"' EXIT
fi
go build -o "$bin/ipckeys" ./cmd/ipckeys
gcc -O2 -o "$bin/ftokloop" bench/ftokloop.c

files=100000
dir=$work/keys
if [ ! -d "$dir" ] || [ "$(find "$dir" -maxdepth 1 -type f | wc -l)" -ne "$files" ]; then
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && seq 0 $((files - 1)) | sed 's/^/f/' | xargs touch)
fi
manifest=$work/distinct.manifest
small=$work/keys4k
if [ ! -s "$manifest" ]; then
	rm -rf "$small"
	mkdir -p "$small"
	(cd "$small" && seq 0 3999 | sed 's/^/f/' | xargs touch)
	awk 'BEGIN { for (i = 0; i < 1000000; i++) printf "ch%07d keys4k/f%d %d\n", i, i % 4000, 1 + int(i / 4000) }' >"$manifest"
fi
if [ "$(stat -c %i "$small"/* | awk '{ print $1 % 65536 }' | sort | uniq -d | wc -l)" -ne 0 ]; then
	echo "bench/scale.sh: two of the 4,000 files in $small share inode low bits: the manifest is not collision-free here" >&2
fi
colliding=$work/colliding.manifest
if [ ! -s "$colliding" ]; then
	awk -v n=$files 'BEGIN { for (i = 0; i < 10 * n; i++) printf "ch%07d keys/f%d %d\n", i, i % n, 1 + int(i / n) }' >"$colliding"
fi
# The mount table names ext4 (statfs gives ext2/ext3, one magic for all three).
fs=$(findmnt -no FSTYPE -T "$dir" 2>/dev/null || stat -f -c %T "$dir")
echo "$("$bin/ipckeys" version | head -1), $(gcc --version | head -1), $(nproc) cores, $fs, $runs runs each, medians"

# measure NAME CMD... runs CMD once with its output to /dev/null and
# appends "wall_ms peak_kib" to $tmp/NAME.
tmp=$bin
measure() {
	local name=$1 s e
	shift
	s=$(date +%s%N)
	/usr/bin/time -f %M -o "$tmp/rss" "$@" >/dev/null 2>"$tmp/err" || true
	e=$(date +%s%N)
	echo "$(((e - s) / 1000)) $(tail -1 "$tmp/rss")" >>"$tmp/$name"
}
median_ms() { sort -n "$tmp/$1" | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] / 1000 }'; }
peak_mib() { sort -n -k2 "$tmp/$1" | awk 'END { printf "%.1f", $2 / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# pair_ratio A B prints the median of the ratios of A's and B's runs taken
# side by side (run i of A against run i of B): steadier than the ratio of
# the medians when the machine's load drifts during the runs.
pair_ratio() { paste -d' ' "$tmp/$1" "$tmp/$2" | awk '{ print $1 / $3 }' | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'; }
row() { printf '%-58s %9s ms %9s MiB\n' "$1" "$(median_ms "$2")" "$(peak_mib "$2")"; }

for ((i = 0; i < runs; i++)); do
	measure c "$bin/ftokloop" 108 "$dir/*"
	measure json "$bin/ipckeys" scan --no-live -p l "$dir/*" -o json
	measure c2 "$bin/ftokloop" 108 "$dir/*"
	measure text "$bin/ipckeys" scan --no-live -p l "$dir/*" -o text
done
echo
echo "== one directory of $files files: ipckeys scan against a C loop of glob and ftok"
row "C: glob + ftok on every path (bench/ftokloop.c)" c
row "ipckeys scan --no-live -p l 'DIR/*' -o json" json
row "C, again (beside -o text)" c2
row "ipckeys scan --no-live -p l 'DIR/*' -o text" text
echo "ratio -o json / C: $(ratio "$(median_ms json)" "$(median_ms c)") (median of the runs side by side: $(pair_ratio json c); target: at most 1.50), peak $(peak_mib json) MiB (target: under 150)"
echo "ratio -o text / C: $(ratio "$(median_ms text)" "$(median_ms c2)") (side by side: $(pair_ratio text c2))"

big=$(( runs < 3 ? runs : 3 ))
for ((i = 0; i < big; i++)); do
	measure mjson "$bin/ipckeys" scan --no-live -m "$manifest" -o json
	measure mtext "$bin/ipckeys" scan --no-live -m "$manifest" -o text
done
echo
echo "== a manifest of 1,000,000 distinct channels (4,000 files x proj 1..250), medians of $big"
row "ipckeys scan --no-live -m MANIFEST -o json" mjson
row "ipckeys scan --no-live -m MANIFEST -o text" mtext
echo "peak -o json: $(peak_mib mjson) MiB (target: under 600)"

measure cjson "$bin/ipckeys" scan --no-live -m "$colliding" -o json
measure ctext "$bin/ipckeys" scan --no-live -m "$colliding" -o text
echo
echo "== a manifest of $((10 * files)) colliding channels ($files files x proj 1..10), one run"
row "ipckeys scan --no-live -m MANIFEST -o json" cjson
row "ipckeys scan --no-live -m MANIFEST -o text" ctext
