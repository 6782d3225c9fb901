#!/usr/bin/env bash
# Build a Go program from the Go module proxy with a pinned toolchain from the proxy.
# In:  OUT, WORK, GO_TOOLCHAIN (golang.org/toolchain version), GO_MODULE, GO_VERSION,
#      GO_BINARY (output name), GO_PACKAGE (default .), GO_REPLACE (space-separated old=new@v),
#      GO_LDFLAGS (default -s -w). Any `go` on PATH bootstraps (Debian 12's 1.19 is enough).
# A copy of the module is built, not `go install`: modules with replace directives
# (Nomad, the autoscaler) cannot be installed.
set -euo pipefail
export GOPATH="$WORK/gopath" GOMODCACHE="$WORK/gopath/pkg/mod" GOCACHE="$WORK/gocache"
export GOFLAGS=-modcacherw GOTOOLCHAIN=local GO111MODULE=on GOENV=off
cd "$WORK"
echo "[go] toolchain golang.org/toolchain@$GO_TOOLCHAIN"
go mod download golang.org/toolchain@"$GO_TOOLCHAIN"
gobin="$GOMODCACHE/golang.org/toolchain@$GO_TOOLCHAIN/bin/go"
chmod +x "$gobin" "$GOMODCACHE/golang.org/toolchain@$GO_TOOLCHAIN"/pkg/tool/*/* 2>/dev/null || true
"$gobin" version
echo "[go] downloading $GO_MODULE@$GO_VERSION"
dir=$("$gobin" mod download -json "$GO_MODULE@$GO_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
cp -r "$dir" "$WORK/src"
chmod -R u+w "$WORK/src"
cd "$WORK/src"
for r in ${GO_REPLACE:-}; do
  "$gobin" mod edit -replace "$r"
done
echo "[go] building $GO_BINARY"
GOFLAGS="-modcacherw -mod=mod" "$gobin" build -trimpath -ldflags "${GO_LDFLAGS:--s -w}" \
  -o "$OUT/$GO_BINARY" "${GO_PACKAGE:-.}"
