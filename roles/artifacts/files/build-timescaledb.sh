#!/usr/bin/env bash
# Build TimescaleDB from its release source in a container of TS_IMAGE, against the exact
# PostgreSQL version the container's apt mirror serves (it must equal TS_PG_VERSION).
# In:  OUT, WORK, LOCAL_DIRS (colon-separated), TS_VERSION, TS_PG_MAJOR, TS_PG_VERSION,
#      TS_SOURCE (file name looked up in LOCAL_DIRS), TS_SOURCE_URL, TS_SOURCE_CHECKSUM (sha256:hex),
#      TS_PATCHES (space-separated names in LOCAL_DIRS or absolute paths), TS_IMAGE, TS_OUTPUT.
# Out: $OUT/$TS_OUTPUT, the installed files (usr/lib/postgresql/..., usr/share/postgresql/...)
#      as a tarball to extract at /.
set -euo pipefail
find_local() {
  local d
  [[ $1 == /* && -f $1 ]] && { echo "$1"; return; }
  IFS=: read -ra dirs <<<"${LOCAL_DIRS:-}"
  for d in "${dirs[@]}"; do
    [[ -n $d && -f $d/$1 ]] && { echo "$d/$1"; return; }
  done
  return 1
}
mkdir -p "$WORK/in/patches" "$WORK/out"
if src=$(find_local "$TS_SOURCE"); then
  echo "[timescaledb] source $src"
  cp "$src" "$WORK/in/source.tar.gz"
else
  echo "[timescaledb] source $TS_SOURCE_URL"
  curl -fsSL --retry 2 -o "$WORK/in/source.tar.gz" "$TS_SOURCE_URL"
fi
got=$(sha256sum "$WORK/in/source.tar.gz" | cut -d' ' -f1)
if [[ "sha256:$got" != "$TS_SOURCE_CHECKSUM" ]]; then
  echo "TimescaleDB source checksum mismatch: expected $TS_SOURCE_CHECKSUM, got sha256:$got" >&2
  exit 1
fi
i=0
for p in ${TS_PATCHES:-}; do
  f=$(find_local "$p") || { echo "patch $p not found in ${LOCAL_DIRS:-no local directories}" >&2; exit 1; }
  i=$((i + 1))
  echo "[timescaledb] patch $f sha256:$(sha256sum "$f" | cut -d' ' -f1)"
  cp "$f" "$WORK/in/patches/$(printf %02d $i).patch"
done
echo "[timescaledb] building in a container of $TS_IMAGE (~5 min on 2 cores)"
docker run --rm --network host -v "$WORK/in:/in:ro" -v "$WORK/out:/out" \
  -e PG_MAJOR="$TS_PG_MAJOR" -e PG_VERSION="$TS_PG_VERSION" -e TS_OUTPUT="$TS_OUTPUT" \
  --entrypoint /bin/bash "$TS_IMAGE" -euo pipefail -c '
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql-server-dev-$PG_MAJOR cmake gcc make \
      libssl-dev libkrb5-dev patch >/dev/null
    have=$(pg_config --version | cut -d" " -f2)
    if [[ $have != "$PG_VERSION" ]]; then
      echo "the mirror serves PostgreSQL $have, not $PG_VERSION: set artifacts_timescaledb_postgresql_version=$have" >&2
      exit 1
    fi
    mkdir /src && tar -C /src --strip-components=1 -xzf /in/source.tar.gz && cd /src
    for p in /in/patches/*.patch; do [[ -e $p ]] && patch -p1 <"$p"; done
    ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DAPACHE_ONLY=OFF >/dev/null
    make -C build -j2 >/dev/null
    make -C build install DESTDIR=/root/dest >/dev/null
    tar -C /root/dest --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - usr | gzip -n >"/out/$TS_OUTPUT"
  '
mv "$WORK/out/$TS_OUTPUT" "$OUT/$TS_OUTPUT"
