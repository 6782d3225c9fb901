#!/usr/bin/env bash
# Debian base image for `docker import`: a debootstrap minbase root file system as a tarball.
# In: OUT, WORK, DEB_SUITE, DEB_PACKAGES (comma-separated), DEB_OUTPUT,
#     DEB_MIRROR (empty: the controller's apt configuration's Debian mirror for DEB_SUITE).
set -euo pipefail
mirror=${DEB_MIRROR:-}
if [[ -z $mirror ]]; then
  mirror=$(apt-get indextargets --format '$(ORIGIN) $(CODENAME) $(REPO_URI)' 'Created-By: Packages' |
    awk -v s="$DEB_SUITE" '$1 == "Debian" && $2 == s {print $3; exit}')
fi
if [[ -z $mirror ]]; then
  echo "no Debian $DEB_SUITE mirror in this machine's apt configuration; set artifacts_debian_mirror" >&2
  exit 1
fi
echo "[debootstrap] $DEB_SUITE minbase + $DEB_PACKAGES from $mirror"
debootstrap --variant=minbase --include="$DEB_PACKAGES" "$DEB_SUITE" "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
  { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
tar -C "$WORK/rootfs" --numeric-owner -cf "$OUT/$DEB_OUTPUT" .
