#!/usr/bin/env bash
# bench.sh: the whole sohoa pipeline beside `pdfcpu validate` on the same scans.
#
#   bash .ci/bench.sh [N]        (N scans, default 20; each 1–20 pages at 200 dpi, grey)
#   BARCODES=off bash .ci/bench.sh [N]   (the daemon with link.barcodes: off; default always)
#
# Makes N realistic scans with ../shared/corpus/mkscan.sh (cached in $BENCH_CACHE,
# default /tmp/sohoa-bench-N), builds sohoa and the pdfcpu CLI at the version in go.mod,
# then measures:
#   - pdfcpu validate: every file in one process; wall time and peak RSS (GNU time);
#   - sohoa: the real daemon, files moved into its inbox at once, until the last upload
#     is confirmed on /metrics; wall time and peak RSS (VmHWM);
#   - sohoa idle: CPU seconds used over 20 s with nothing to do, and RSS.
# Needs: imagemagick img2pdf ghostscript qrencode zint libtiff-tools fonts-dejavu-core time curl.
set -euo pipefail
n=${1:-20}
barcodes=${BARCODES:-always} # link.barcodes for the daemon: always | unnamed | off
root=$(cd "$(dirname "$0")/.." && pwd)
shared=$root/../shared
cache=${BENCH_CACHE:-/tmp/sohoa-bench-$n}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
pid=

mkdir -p "$cache"
if [[ $(ls "$cache"/*.pdf 2>/dev/null | wc -l) -lt $n ]]; then
  echo "making $n scans in $cache (once) ..." >&2
  for i in $(seq 1 "$n"); do
    code=$(printf '000.00.12.H57-201101-%04d' "$i")
    pages=$(( (i * 7) % 20 + 1 ))
    "$shared/corpus/mkscan.sh" --pages "$pages" --dpi 200 --seed "$i" "$cache/$code.pdf" >/dev/null
  done
fi
files=("$cache"/*.pdf)
files=("${files[@]:0:$n}")
bytes=$(cat "${files[@]}" | wc -c)
pages_total=0

echo "building sohoa and pdfcpu ..." >&2
(cd "$root" && go build -o "$work/sohoa" ./cmd/sohoa)
pdfcpu_version=$(cd "$root" && go list -m -f '{{.Version}}' github.com/pdfcpu/pdfcpu)
GOBIN=$work go install "github.com/pdfcpu/pdfcpu/cmd/pdfcpu@$pdfcpu_version" 2>/dev/null

# pdfcpu validate, all files in one process.
/usr/bin/time -f '%e %M' -o "$work/pdfcpu.time" "$work/pdfcpu" validate -c disable -q "${files[@]}" >/dev/null 2>&1 || true
read -r p_wall p_rss_kb < "$work/pdfcpu.time"
# pdfcpu validate, one process per file (as a script checking each new scan would run it).
start=$(date +%s.%N)
for f in "${files[@]}"; do "$work/pdfcpu" validate -c disable -q "$f" >/dev/null 2>&1 || true; done
p1_wall=$(echo "$(date +%s.%N) - $start" | bc)

# sohoa, end to end into a local outbox.
mkdir -p "$work/inbox" "$work/outbox" "$work/stage"
cp "${files[@]}" "$work/stage/"
cat > "$work/sohoa.yaml" <<YAML
inbox: $work/inbox
data_dir: $work/data
listen: "127.0.0.1:0"
watch: {quiet: 100ms, rescan: 60s}
upload: {sink: dir, dir: {path: $work/outbox}}
link: {barcodes: $barcodes}
YAML
"$work/sohoa" run -config "$work/sohoa.yaml" 2> "$work/sohoa.log" &
pid=$!
for _ in $(seq 100); do grep -q 'sohoa ready' "$work/sohoa.log" && break; sleep 0.1; done
url=$(grep -o 'metrics=http://[^ ]*' "$work/sohoa.log" | head -1 | cut -d= -f2)
uploads() { curl -s "$url" | awk '/^sohoa_uploads_total/ {print $2}'; }
start=$(date +%s.%N)
mv "$work/stage/"*.pdf "$work/inbox/"
until [[ $(uploads) == "$n" ]]; do
  sleep 0.02
  if (( $(echo "$(date +%s.%N) - $start > 600" | bc) )); then echo "timed out; log:" >&2; tail "$work/sohoa.log" >&2; exit 1; fi
done
end=$(date +%s.%N)
s_wall=$(echo "$end - $start" | bc)
s_rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)

# Idle: CPU used in 20 s with nothing to do.
ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
t0=$(ticks); sleep 20; t1=$(ticks)
idle_cpu=$(echo "scale=2; ($t1 - $t0) / $(getconf CLK_TCK)" | bc)
idle_rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=

mb=$(echo "scale=2; $bytes / 1048576" | bc)
printf '\n%d scans, %s MB, on %s (%d cores)\n' "$n" "$mb" "$(uname -m)" "$(nproc)"
printf '%-44s %10s %10s %10s %12s\n' "" "wall s" "scans/s" "MB/s" "peak RSS MB"
row() { printf '%-44s %10.2f %10.2f %10.2f %12.1f\n' "$1" "$2" "$(echo "$n / $2" | bc -l)" "$(echo "$mb / $2" | bc -l)" "$(echo "$3 / 1024" | bc -l)"; }
row "pdfcpu validate ($pdfcpu_version), 1 process" "$p_wall" "$p_rss_kb"
row "pdfcpu validate, 1 process per file" "$p1_wall" "$p_rss_kb"
row "sohoa run (watch→upload), barcodes $barcodes" "$s_wall" "$s_rss_kb"
printf 'ratio sohoa / pdfcpu validate: %.2fx (1 process), %.2fx (1 process per file)\n' \
  "$(echo "$s_wall / $p_wall" | bc -l)" "$(echo "$s_wall / $p1_wall" | bc -l)"
printf 'idle: %s CPU seconds in 20 s, RSS %.1f MB\n' "$idle_cpu" "$(echo "$idle_rss_kb / 1024" | bc -l)"
