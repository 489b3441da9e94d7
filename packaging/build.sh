#!/usr/bin/env bash
# Builds the release files of the commit checked out, reproducibly:
#
#   dist/ipckeys-VERSION-linux-amd64, dist/ipckeys-VERSION-linux-arm64
#       static binaries (CGO_ENABLED=0)
#   dist/ipckeys_VERSION-1_amd64.deb, dist/ipckeys_VERSION-1_arm64.deb
#       the Debian packages: the binary, ipckeys(1), the bash, zsh and fish
#       completions, ipckeys.service and ipckeys.timer (disabled), the
#       copyright file and changelog.Debian.gz, and the lintian override
#       for the static binary
#   dist/SHA256SUMS
#
# Usage: packaging/build.sh [OUTDIR]    (default dist)
#
# Nothing in the files depends on when, where or by whom they are built:
# every time in them is the last commit's (SOURCE_DATE_EPOCH), paths are
# trimmed, and the same Go toolchain (go.mod) gives the same bytes.
# IPCKEYS_MAINTAINER sets the package's Maintainer field.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
export PATH="$PATH:/usr/local/go/bin"

# nfpm writes the .deb. Releases after v2.45.2 need a module the Go module
# proxy does not serve. It is built once per version and kept in the user's
# cache (building it takes minutes); NFPM names another nfpm to use.
nfpm_version=v2.45.2
nfpm=${NFPM:-${XDG_CACHE_HOME:-$HOME/.cache}/ipckeys/nfpm-$nfpm_version/nfpm}
if [ ! -x "$nfpm" ]; then
	echo "build.sh: building nfpm $nfpm_version into $(dirname "$nfpm") (once)" >&2
	GOBIN=$(dirname "$nfpm") CGO_ENABLED=0 go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$nfpm_version"
fi

SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export SOURCE_DATE_EPOCH
# The version: the tag (v1.2.0 gives 1.2.0, 4 commits later 1.2.0+4.gHASH);
# without a tag, 0.0.0~gitDATE.HASH, which sorts before any release.
# An uncommitted change is marked: such a build is not a release.
if tag=$(git describe --tags --match 'v[0-9]*' --abbrev=0 2>/dev/null); then
	version=${tag#v}
	if n=$(git rev-list --count "$tag..HEAD") && [ "$n" -gt 0 ]; then
		version+="+$n.g$(git rev-parse --short=12 HEAD)"
	fi
else
	version="0.0.0~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d).$(git rev-parse --short=12 HEAD)"
fi
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "build.sh: warning: uncommitted changes: the files are marked +dirty and are not a release" >&2
	version+="+dirty"
fi
export CGO_ENABLED=0 GOOS=linux GOFLAGS=-mod=readonly GOAMD64=v1 GOARM64=v8.0
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
mkdir -p "$out"
rm -f "$out"/ipckeys-*-linux-* "$out"/ipckeys_*.deb "$out"/SHA256SUMS

for arch in amd64 arm64; do
	GOARCH=$arch go build -trimpath -buildvcs=true -ldflags='-s -w' \
		-o "$build/$arch/ipckeys" ./cmd/ipckeys
done

# The manual and the completions come from the binary itself; one built for
# this machine writes them (the same text on every architecture).
GOOS= GOARCH= go build -trimpath -buildvcs=true -ldflags='-s -w' -o "$build/host/ipckeys" ./cmd/ipckeys
"$build/host/ipckeys" man | gzip -9n >"$build/ipckeys.1.gz"
"$build/host/ipckeys" completion bash >"$build/ipckeys.bash"
"$build/host/ipckeys" completion zsh >"$build/_ipckeys"
"$build/host/ipckeys" completion fish >"$build/ipckeys.fish"
gzip -9n <README.md >"$build/README.md.gz"
# The copyright file lists the modules linked into the binary (the same on
# every architecture); the changelog names the commit.
packaging/copyright.sh "$build/host/ipckeys" >"$build/copyright"
maintainer=${IPCKEYS_MAINTAINER:-ipckeys developers <packages@ipckeys.invalid>}
# The Debian revision: the package's own files change only with the commit.
revision=1
{
	printf 'ipckeys (%s-%s) unstable; urgency=medium\n\n' "$version" "$revision"
	printf '  * Built from commit %s.\n\n' "$(git rev-parse HEAD)"
	printf ' -- %s  %s\n' "$maintainer" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$build/changelog.Debian.gz"

for arch in amd64 arm64; do
	cp "$build/$arch/ipckeys" "$out/ipckeys-$version-linux-$arch"
	cp "$build/$arch/ipckeys" "$build/ipckeys"
	ARCH=$arch VERSION=$version RELEASE=$revision BUILD=$build MAINTAINER=$maintainer \
		"$nfpm" package --config packaging/nfpm.yaml --packager deb --target "$out/ipckeys_${version}-${revision}_$arch.deb" >&2
done

(cd "$out" && sha256sum ipckeys-*-linux-* ipckeys_*.deb >SHA256SUMS)
cat "$out/SHA256SUMS"
