#!/usr/bin/env bash
# Builds `toolgym/python:3.11-bwrap` with `docker import` from a rootfs made of the HOST's own
# python3 and bwrap, their shared libraries and the standard library, laid out like the host
# (merged /usr symlinks included, so the sandbox binds that serve the host serve the container):
# no registry pull is needed (none is possible on the CI machines). Cached: does nothing when the
# image already exists (pass --force to rebuild). Respects DOCKER_HOST like the docker CLI.
#
#   sandbox/scripts/build-python-image.sh [--force] [image-tag]
set -euo pipefail

force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
tag="${1:-toolgym/python:3.11-bwrap}"
python_bin="${TOOLGYM_IMAGE_PYTHON:-/usr/bin/python3}"

if [ "$force" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "build-python-image: $tag already exists"
  exit 0
fi

python_real="$(readlink -f "$python_bin")"
version="$("$python_real" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
stdlib="$("$python_real" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')"
dynload="$("$python_real" -c 'import sysconfig; print(sysconfig.get_path("platstdlib"))')/lib-dynload"

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT

# Every file the interpreter, its extension modules, bwrap and /bin/sh load at run time.
binaries=("$python_real" "$(command -v bwrap)" /bin/sh /bin/sleep)
mapfile -t extensions < <(find "$dynload" -name '*.so')
libs="$(ldd "${binaries[@]}" "${extensions[@]}" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u)"

# The host's top-level symlinks (/bin -> usr/bin on a merged-/usr system) come first, so files
# copied by their host path land where the host has them.
for top in /bin /lib /lib64 /sbin; do
  if [ -L "$top" ]; then
    target="$(readlink "$top")"
    mkdir -p "$root/${target#/}"
    ln -s "$target" "$root$top"
  fi
done
mkdir -p "$root/usr/bin"

copy() { # copy a path into the rootfs, following symlinks of the path itself
  local src="$1"
  mkdir -p "$root$(dirname "$src")"
  cp -aL "$src" "$root$src"
}
for f in "${binaries[@]}" $libs; do copy "$f"; done
mkdir -p "$root$(dirname "$stdlib")"
cp -a "$stdlib" "$root$stdlib"
# Tests of the stdlib and ensurepip wheels are dead weight in a sandbox image.
rm -rf "$root$stdlib/test" "$root$stdlib/ensurepip" "$root$stdlib/idlelib" "$root$stdlib/tkinter" "$root$stdlib/turtledemo"
# The loader is looked up at its canonical path.
[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || { mkdir -p "$root/lib64" && cp -aL /lib64/ld-linux-x86-64.so.2 "$root/lib64/" 2>/dev/null; } || true
mkdir -p "$root/usr/bin" "$root/tmp" "$root/work" "$root/etc" "$root/proc" "$root/dev"
ln -sf "$python_real" "$root/usr/bin/python3"
ln -sf "$python_real" "$root/usr/bin/python"
[ -e "$root/usr/bin/python$version" ] || ln -sf "$python_real" "$root/usr/bin/python$version"
chmod 1777 "$root/tmp" "$root/work"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"

tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . |
  docker import --change 'ENV PATH=/usr/bin:/bin' --change 'WORKDIR /work' - "$tag" >/dev/null
echo "build-python-image: built $tag ($(docker image inspect "$tag" --format '{{.Size}}') bytes)"
