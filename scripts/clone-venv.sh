#!/usr/bin/env bash
# Give this clone its own small virtualenv (.venv) on top of the shared, cached one.
#
#   scripts/clone-venv.sh CACHED_VENV [DEST]
#
# The cached venv ($STACKYARD_CACHE/venv-<requirements hash>) holds the third-party
# packages and is shared by every clone on the machine. DEST (default .venv) is a real
# venv of this clone: a .pth file adds the cached site-packages to its path, `stackyard`
# is installed editable from *this* clone's src/, and the cached console scripts
# (ansible-playbook, molecule, pytest, ...) get copies whose interpreter is DEST's (native
# programs such as ruff are linked), so
# whatever runs from DEST/bin imports this clone's code, whichever clone ran last.
set -euo pipefail

cached=$(realpath "${1:?usage: clone-venv.sh CACHED_VENV [DEST]}")
dest=${2:-.venv}
root=$(cd "$(dirname "$0")/.." && pwd)

# An older layout made .venv a symlink to the shared venv: replace it.
[[ -L $dest ]] && rm -f "$dest"
if [[ ! -x $dest/bin/python ]]; then
  "$cached/bin/python" -m venv --without-pip "$dest"
fi
dest=$(realpath "$dest")

site_of() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
cached_site=$(site_of "$cached")
dest_site=$(site_of "$dest")

# addsitedir (not a bare path) so the cached venv's own .pth files are processed too.
printf 'import site; site.addsitedir("%s")\n' "$cached_site" >"$dest_site/_stackyard_cached_venv.pth"

# Console scripts of the cached venv, re-pointed at this venv's interpreter.
for script in "$cached"/bin/*; do
  name=$(basename "$script")
  [[ -f $script && ! -L $script && $name != python* && $name != activate* ]] || continue
  if head -n 1 "$script" | grep -q "^#!$cached/bin/python"; then
    sed "1s|.*|#!$dest/bin/python|" "$script" >"$dest/bin/$name.tmp"
    chmod 0755 "$dest/bin/$name.tmp"
    mv -f "$dest/bin/$name.tmp" "$dest/bin/$name"
  elif [[ -x $script ]]; then
    ln -sfn "$script" "$dest/bin/$name" # a native program (ruff): nothing to re-point
  fi
done

# This clone's own code, editable, with its entry points.
"$dest/bin/python" -m pip install --quiet --no-deps --no-build-isolation --disable-pip-version-check -e "$root"
