#!/usr/bin/env bash
# Runs every fuzz target of the module (every `func FuzzX` in a _test.go file)
# for SECONDS each (default 60), one after the other, and prints each
# target's last progress line (elapsed, execs, new interesting inputs).
# It fails on the first finding and prints where Go wrote the failing input
# (PACKAGE/testdata/fuzz/FuzzX/HASH): commit that file with the fix, and it
# stays a regression test that every `go test` runs.
#
#   .ci/fuzz.sh [SECONDS]                         # or: make fuzz FUZZTIME=SECONDS
#   GOFLAGS=-parallel=1 nice .ci/fuzz.sh 300     # gentler on a shared machine
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
[[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
targets=0
while IFS=: read -r file name; do
  pkg=./$(dirname "$file")
  targets=$((targets + 1))
  echo "== $pkg $name (${secs}s)"
  # -fuzzminimizetime: Go minimizes every new interesting input, for up to a
  # minute by default; on our seeds (configs of a few KiB, PDFs up to 32 KiB)
  # that took the whole minute of a target, which then showed "0/sec" and ran
  # a few hundred inputs (FuzzParse: 358 in 60 s; with 1 s, 41,584 in 20 s).
  # A finding is still written, minimized for a second.
  fuzz() { go test -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" -fuzzminimizetime 1s -timeout "$((secs + 600))s" "$pkg" >"$log" 2>&1; }
  ok=true
  fuzz || ok=false
  # Go before 1.27 can fail a target with a bare "context deadline exceeded"
  # when -fuzztime ends while a worker is busy (go.dev/issue/75804), writing
  # no input: not a finding. Such a target is run once more.
  if ! $ok && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
    echo "   (fuzz coordinator deadline race, go.dev/issue/75804; running $name again)"
    ok=true
    fuzz || ok=false
  fi
  if ! $ok; then
    cat "$log"
    crasher=$(sed -n 's/.*Failing input written to \(testdata\/fuzz\/[^ ]*\).*/\1/p' "$log" | tail -1)
    if [[ -n $crasher ]]; then
      echo "FINDING in $pkg $name: ${pkg#./}/$crasher" >&2
      echo "reproduce: go test -run '${name}/$(basename "$crasher")' $pkg" >&2
    else
      echo "FAILED: $pkg $name (no failing input written; see the output above)" >&2
    fi
    exit 1
  fi
  grep '^fuzz: elapsed' "$log" | tail -1 || true
done < <(git ls-files '*_test.go' | xargs grep -Ho '^func Fuzz[A-Za-z0-9_]*' | sed 's/func //' | sort)
if ((targets == 0)); then echo "no fuzz targets found" >&2; exit 1; fi
echo "fuzz: $targets targets, ${secs}s each, no finding"
