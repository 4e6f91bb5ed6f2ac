#!/usr/bin/env bash
# bench.sh: the whole sohoa pipeline beside `pdfcpu validate` on the same scans.
#
#   bash .ci/bench.sh [N]        (N scans, default 20; each 1–20 pages at 200 dpi, grey)
#   MODES="off unnamed always" WORKERS=1 bash .ci/bench.sh [N]
#        (link.barcodes modes to run the daemon with, default "off always";
#         watch.workers, default 2)
#   EXTRA_YAML='check: {isolate: false}' bash .ci/bench.sh   (more daemon config)
#   DIRTY=1 bash .ci/bench.sh    (scans not yet written back to disk when moved in)
#
# Makes N realistic scans with testdata/mkscan.sh (cached in $BENCH_CACHE,
# default /tmp/sohoa-bench-N), builds sohoa and the pdfcpu CLI at the version in go.mod,
# then measures:
#   - pdfcpu validate: every file in one process; wall time and peak RSS (GNU time); the best
#     of three runs at the start and one more before each sohoa run (the host's speed drifts:
#     each sohoa run is also compared with the pdfcpu run just before it); and the best of
#     three with GOMAXPROCS=1, which can be much faster on a small VM;
#   - sohoa: the real daemon, files (copies written to disk first, as pdfcpu's are; DIRTY=1:
#     not) moved into its inbox at once, until it logs the last
#     upload confirmed (then checked on /metrics); wall time and peak RSS (VmHWM, the daemon's plus its
#     parser processes'); per mode the best wall time of five runs (RUNS), as for pdfcpu, each a
#     fresh daemon on a fresh data dir, and the highest peak RSS of the five;
#   - the floor: BenchmarkFloor (./ingest/) on the same files: copy while hashing, fsync
#     and check, two at a time, in one process with nothing around it (peak RSS not taken);
#   - sohoa idle: CPU seconds used over 20 s with nothing to do, and RSS.
# Needs: imagemagick img2pdf ghostscript qrencode zint libtiff-tools fonts-dejavu-core time curl.
set -euo pipefail
n=${1:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${BENCH_CACHE:-/tmp/sohoa-bench-$n}
work=$(mktemp -d)
trap 'kill $pid $tailpid 2>/dev/null || true; rm -rf "$work"' EXIT
pid= tailpid=

mkdir -p "$cache"
if [[ $(ls "$cache"/*.pdf 2>/dev/null | wc -l) -lt $n ]]; then
  echo "making $n scans in $cache (once) ..." >&2
  for i in $(seq 1 "$n"); do
    code=$(printf '000.00.12.H57-201101-%04d' "$i")
    pages=$(( (i * 7) % 20 + 1 ))
    bash "$root/testdata/mkscan.sh" --pages "$pages" --dpi 200 --seed "$i" "$cache/$code.pdf" >/dev/null
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
# Wall time to the nanosecond (GNU time's %e has two decimals, too coarse for a
# tenth of a second), peak RSS from GNU time; the best of all runs (p_last: the
# last run's wall time).
p_wall= p_last= p_rss_kb=0
run_pdfcpu() {
  local start rss
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$work/pdfcpu.time" "$work/pdfcpu" validate -c disable -q "${files[@]}" >/dev/null 2>&1 || true
  p_last=$(echo "$(date +%s.%N) - $start" | bc)
  if [[ -z $p_wall ]] || (( $(echo "$p_last < $p_wall" | bc) )); then p_wall=$p_last; fi
  read -r rss < "$work/pdfcpu.time"
  if (( rss > p_rss_kb )); then p_rss_kb=$rss; fi
}
for _ in 1 2 3; do run_pdfcpu; done
# The same on one processor: pdfcpu validate takes up to half the time that
# way on a 2-core VM (its collector's second thread costs it twice the page
# faults), so the ratios below are shown against both (the budget's is the
# default).
p_one=
for _ in 1 2 3; do
  start=$(date +%s.%N)
  GOMAXPROCS=1 "$work/pdfcpu" validate -c disable -q "${files[@]}" >/dev/null 2>&1 || true
  w=$(echo "$(date +%s.%N) - $start" | bc)
  if [[ -z $p_one ]] || (( $(echo "$w < $p_one" | bc) )); then p_one=$w; fi
done
# pdfcpu validate, one process per file (as a script checking each new scan would run it).
start=$(date +%s.%N)
for f in "${files[@]}"; do "$work/pdfcpu" validate -c disable -q "$f" >/dev/null 2>&1 || true; done
p1_wall=$(echo "$(date +%s.%N) - $start" | bc)

# The floor: what the rules leave to do (copy while hashing, fsync, check with
# blank pages), in one process, two files at a time, nothing else
# (BenchmarkFloor in ./ingest/, ten passes over the same files).
f_ns=$(cd "$root" && SOHOA_BENCH_DIR=$cache go test -run XXX -bench '^BenchmarkFloor$' -benchtime 10x ./ingest/ 2>/dev/null |
  awk '/^BenchmarkFloor/ {for (i = 1; i < NF; i++) if ($(i+1) == "ns/op") print $i}')
f_wall=$(echo "scale=4; ${f_ns:-0} / 1000000000" | bc)

# sohoa, end to end into a local outbox, once per link.barcodes mode asked for.
# The files are moved in complete, so the quiet period (a scanner's chunked
# writes) is cut to 10 ms: what is timed is the daemon's work, not its waiting.
declare -A s_wall s_rss s_ratios
run_sohoa() { # mode run
  local mode=$1 dir=$work/run-$1-$2
  mkdir -p "$dir/inbox" "$dir/outbox" "$dir/stage"
  cp "${files[@]}" "$dir/stage/"
  # The copies are written to disk before the clock starts, as the files
  # `pdfcpu validate` reads are: the write-back of a file just written is
  # its writer's (here cp's, standing for the scanner's), which the kernel
  # does within half a minute whoever reads the file. sohoa's fsync of a
  # scan would otherwise do it inside the timed burst. DIRTY=1 leaves the
  # copies unwritten, as a scan taken seconds after the scanner wrote it is.
  if [[ -z ${DIRTY:-} ]]; then sync "$dir/stage/"*.pdf; fi
  cat > "$dir/sohoa.yaml" <<YAML
inbox: $dir/inbox
data_dir: $dir/data
listen: "127.0.0.1:0"
watch: {quiet: 10ms, rescan: 60s, workers: ${WORKERS:-2}}
upload: {sink: dir, dir: {path: $dir/outbox}}
link: {barcodes: $mode}
${EXTRA_YAML:-}
YAML
  "$work/sohoa" run -config "$dir/sohoa.yaml" 2> "$dir/sohoa.log" &
  pid=$!
  for _ in $(seq 100); do grep -q 'sohoa ready' "$dir/sohoa.log" && break; sleep 0.1; done
  url=$(grep -o 'metrics=http://[^ ]*' "$dir/sohoa.log" | head -1 | cut -d= -f2)
  # The end is the n-th "uploaded" line, written once the upload is
  # confirmed and recorded; waited for on the log, not by polling /metrics,
  # which would take CPU from the daemon on a small machine.
  mkfifo "$dir/lines"
  exec 7<>"$dir/lines"
  tail -n0 -F "$dir/sohoa.log" > "$dir/lines" 2>/dev/null &
  tailpid=$!
  local start end
  sleep 0.2
  start=$(date +%s.%N)
  mv "$dir/stage/"*.pdf "$dir/inbox/"
  # (Into a file: GNU grep stops at the first match when writing to /dev/null.)
  if ! timeout 600 grep -m "$n" 'msg=uploaded' <&7 > "$dir/uploaded"; then
    echo "timed out; log:" >&2; tail "$dir/sohoa.log" >&2; exit 1
  fi
  end=$(date +%s.%N)
  kill "$tailpid"
  tailpid=
  exec 7<&-
  local uploads
  uploads=$(curl -s "$url" | awk '/^sohoa_uploads_total/ {print $2}')
  if [[ $uploads != "$n" ]]; then echo "sohoa_uploads_total is $uploads, want $n" >&2; exit 1; fi
  local w rss
  w=$(echo "$end - $start" | bc)
  if [[ -z ${s_wall[$mode]:-} ]] || (( $(echo "$w < ${s_wall[$mode]}" | bc) )); then s_wall[$mode]=$w; fi
  s_ratios[$mode]+=" $(echo "$w / $p_last" | bc -l)"
  # The daemon and its parser processes (check.isolate), each at its peak.
  rss=$(for p in $pid $(pgrep -P "$pid"); do awk '/VmHWM/ {print $2}' /proc/$p/status; done | awk '{s += $1} END {print s}')
  if (( rss > ${s_rss[$mode]:-0} )); then s_rss[$mode]=$rss; fi
  if [[ -n ${KEEP_LOG:-} ]]; then cp "$dir/sohoa.log" "$KEEP_LOG.$mode.$2"; fi
}
stop_sohoa() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
modes=(${MODES:-off always})
runs=${RUNS:-5}
for mode in "${modes[@]}"; do
  for k in $(seq "$runs"); do
    run_pdfcpu
    run_sohoa "$mode" "$k"
    [[ $mode == "${modes[-1]}" && $k == "$runs" ]] || stop_sohoa
  done
done

# Idle: CPU used in 20 s with nothing to do (the last daemon, after its burst).
ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
t0=$(ticks); sleep "${IDLE_SECONDS:-20}"; t1=$(ticks)
idle_cpu=$(echo "scale=2; ($t1 - $t0) / $(getconf CLK_TCK)" | bc)
idle_rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
stop_sohoa

mb=$(echo "scale=2; $bytes / 1048576" | bc)
state="written to disk before the clock starts"
if [[ -n ${DIRTY:-} ]]; then state="moved in before their write-back (DIRTY=1)"; fi
printf '\n%d scans, %s MB, on %s (%d cores); daemon runs: scans %s\n' "$n" "$mb" "$(uname -m)" "$(nproc)" "$state"
printf '%-44s %10s %10s %10s %12s\n' "" "wall s" "scans/s" "MB/s" "peak RSS MB"
row() { printf '%-44s %10.3f %10.2f %10.2f %12.1f\n' "$1" "$2" "$(echo "$n / $2" | bc -l)" "$(echo "$mb / $2" | bc -l)" "$(echo "$3 / 1024" | bc -l)"; }
row "pdfcpu validate ($pdfcpu_version), 1 process" "$p_wall" "$p_rss_kb"
printf '%-44s %10.3f %10.2f %10.2f %12s\n' "pdfcpu validate, 1 process, GOMAXPROCS=1" "$p_one" \
  "$(echo "$n / $p_one" | bc -l)" "$(echo "$mb / $p_one" | bc -l)" "-"
row "pdfcpu validate, 1 process per file" "$p1_wall" "$p_rss_kb"
printf '%-44s %10.3f %10.2f %10.2f %12s\n' "floor: copy+SHA-256+fsync+check, 2 at once" "$f_wall" \
  "$(echo "$n / $f_wall" | bc -l)" "$(echo "$mb / $f_wall" | bc -l)" "-"
for mode in "${modes[@]}"; do
  row "sohoa run (watch→upload), barcodes $mode" "${s_wall[$mode]}" "${s_rss[$mode]}"
done
for mode in "${modes[@]}"; do
  printf 'ratio sohoa (barcodes %s) / pdfcpu validate: %.2fx (1 process), %.2fx (1 process, GOMAXPROCS=1), %.2fx (1 process per file)\n' "$mode" \
    "$(echo "${s_wall[$mode]} / $p_wall" | bc -l)" "$(echo "${s_wall[$mode]} / $p_one" | bc -l)" "$(echo "${s_wall[$mode]} / $p1_wall" | bc -l)"
done
for mode in "${modes[@]}"; do
  # Robust to the host's drift: each run against the pdfcpu run just before it.
  printf 'ratio sohoa (barcodes %s) / pdfcpu validate run just before, median of %d runs: %.2fx (each: %s)\n' "$mode" "$runs" \
    "$(echo "${s_ratios[$mode]}" | tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')" \
    "$(for r in ${s_ratios[$mode]}; do printf '%.2f ' "$r"; done | sed 's/ $//')"
done
printf 'ratio floor / pdfcpu validate: %.2fx (1 process)\n' "$(echo "$f_wall / $p_wall" | bc -l)"
printf 'idle: %s CPU seconds in %s s, RSS %.1f MB\n' "$idle_cpu" "${IDLE_SECONDS:-20}" "$(echo "$idle_rss_kb / 1024" | bc -l)"
