#!/usr/bin/env bash
# Builds one sohoa_<version>_<arch>.deb: the binary (cross-compiled for arm64), the unit,
# sysusers and tmpfiles files, the conffile made from configs/sohoa.yaml with its ward code
# emptied, then nfpm with nfpm.yaml. Called by `make deb`; usage:
#   NFPM="go run ...nfpm@vX" build.sh ARCH VERSION REVISION OUTDIR
set -euo pipefail
arch=$1 version=$2 revision=$3 out=$4
: "${NFPM:?NFPM names the pinned nfpm command (the Makefile sets it)}"
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# Position-independent (Debian's hardening; without cgo a static-pie, which lintian does not
# take for a statically linked binary). PKCS #11 signing tokens need cgo. amd64 is built with it; arm64 too when a cross compiler is
# there, else without (the binary then says tokens are unavailable; .p12 files still sign).
cc=gcc cgo=1
if [[ $arch != "$(go env GOHOSTARCH)" ]]; then
  case $arch in
  arm64) cc=aarch64-linux-gnu-gcc ;;
  *) echo "build.sh: no cross compiler known for $arch" >&2; exit 2 ;;
  esac
  command -v "$cc" >/dev/null || cgo=0
fi
(cd "$top" && CGO_ENABLED=$cgo CC=$cc GOOS=linux GOARCH=$arch go build -trimpath -buildmode=pie -o "$stage/sohoa" \
  -ldflags "-s -w -X main.version=$version -X main.revision=$revision -X main.branch=" ./cmd/sohoa)

# Dependencies: systemd (sysusers, tmpfiles, the unit); libc6: with cgo, the glibc the
# binary's newest symbol needs; without, a Go PIE still names glibc's loader as interpreter.
depends=(systemd libc6)
if ((cgo)); then
  glibc=$(objdump -T "$stage/sohoa" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
  depends[1]="libc6 (>= $glibc)"
fi

cp "$top/systemd/sohoa.service" "$top/systemd/sohoa.sysusers" "$top/systemd/sohoa.tmpfiles" \
  "$here/nfpm.yaml" "$here/copyright" "$here/lintian-overrides" "$here/postinst" "$here/prerm" "$here/postrm" "$stage/"

# The conffile: the annotated example, with no ward code, so that the daemon refuses to start
# ("ward.code: must be set ...") until the IT officer writes this ward's.
sed -e 's|^  code: "000\.00\.12\.H57" .*|  code: ""   # REQUIRED: this ward'"'"'s agency code, as its dossier codes begin, e.g. 000.00.12.H57|' \
  -e 's|^  name: "Phường Hương Văn"$|  name: ""   # e.g. "Phường Hương Văn", with its accents|' \
  "$top/configs/sohoa.yaml" >"$stage/sohoa.yaml"
if ! grep -q '^  code: ""' "$stage/sohoa.yaml"; then
  echo "build.sh: configs/sohoa.yaml has no ward code line to empty: update the sed above" >&2
  exit 1
fi

# Debian's changelog (changelog.gz: a native package), one entry for this build.
{
  echo "sohoa ($version) unstable; urgency=medium"
  echo
  echo "  * Built from revision $revision."
  echo
  echo " -- sohoa maintainers <maintainers@sohoa.example>  $(date -R -d "@$(git -C "$top" log -1 --format=%ct)")"
} | gzip -9n >"$stage/changelog.gz"

echo "depends:" >>"$stage/nfpm.yaml"
printf '  - "%s"\n' "${depends[@]}" >>"$stage/nfpm.yaml"

mkdir -p "$out"
(cd "$stage" && SOHOA_ARCH=$arch SOHOA_VERSION=$version \
  $NFPM package --config nfpm.yaml --packager deb --target "$out/sohoa_${version}_${arch}.deb")
echo "$out/sohoa_${version}_${arch}.deb (cgo $cgo)"
