#!/usr/bin/env bash
# install-debian-python.sh MINOR [PREFIX]
#
# Installs Debian unstable's build of CPython 3.MINOR (with its debug
# symbols) into PREFIX (default /opt/giltrace-python/3.MINOR), for the tests
# that trace a distribution's link-time optimised interpreter newer than this
# machine's Debian has: 3.14 and 3.15 (source/cpython TestRecordLTO and
# TestCountdownVersions). It runs on any Debian or Ubuntu:
#
#   - the packages (python3.MINOR, its -minimal, libpython3.MINOR-minimal and
#     -stdlib, python3.MINOR-dbg for the debug file) and the libraries they
#     need from unstable (glibc, expat, zlib, OpenSSL, libffi, zstd) are
#     downloaded from the Debian archive and unpacked into PREFIX, not
#     installed: nothing of the system's changes;
#   - PREFIX/usr/bin/python3.MINOR is made to load unstable's glibc from
#     PREFIX (patchelf: its program interpreter and run path); its code is
#     unchanged, at the same addresses;
#   - the interpreter's debug file goes where giltrace and gdb look for it,
#     /usr/lib/debug/.build-id/, as python3.MINOR-dbg would put it;
#   - the standard library is compiled to bytecode, as the package's
#     installation does.
#
# Then: giltrace record -- PREFIX/usr/bin/python3.MINOR app.py
#
# Run as root. Idempotent: an existing PREFIX/usr/bin/python3.MINOR that runs
# is kept; a PREFIX that this script did not make is refused. Needs curl, xz and dpkg-deb (apt-get installs patchelf if missing).
set -euo pipefail
minor=${1:?usage: install-debian-python.sh MINOR [PREFIX]}
prefix=${2:-/opt/giltrace-python/3.$minor}
py=$prefix/usr/bin/python3.$minor
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ -x "$py" ] && "$py" -c 'import ssl, threading' >/dev/null 2>&1; then
	"$py" -m compileall -q -j 2 "$prefix/usr/lib/python3.$minor" >/dev/null || true
	echo "install-debian-python: $py is installed"
	exit 0
fi
# A PREFIX this script did not make is left alone.
if [ -e "$prefix" ] && [ ! -e "$prefix/.giltrace-install" ]; then
	echo "install-debian-python: $prefix exists and was not made by this script: choose another PREFIX" >&2
	exit 1
fi
if ! command -v patchelf >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq -o DPkg::Lock::Timeout=300 patchelf >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "install-debian-python: reading unstable's package list from $mirror"
curl -fsS --retry 3 -o "$work/Packages.xz" "$mirror/dists/sid/main/binary-amd64/Packages.xz"
xz -d "$work/Packages.xz"
pkgs="python3.$minor python3.$minor-minimal libpython3.$minor-minimal libpython3.$minor-stdlib python3.$minor-dbg
libc6 libexpat1 zlib1g libssl3t64 libffi8 libzstd1"
mkdir -p "$work/root"
for p in $pkgs; do
	f=$(awk -v p="$p" '$1 == "Package:" { cur = $2 } cur == p && $1 == "Filename:" { print $2; exit }' "$work/Packages")
	if [ -z "$f" ]; then
		echo "install-debian-python: Debian unstable has no package $p" >&2
		exit 1
	fi
	echo "install-debian-python: $f"
	curl -fsS --retry 3 -o "$work/p.deb" "$mirror/$f"
	dpkg-deb -x "$work/p.deb" "$work/root"
done
# The debug files (the interpreter's, and those of the debug build
# python3.MINOR-dbg brings) by build ID, as the package would install them.
mkdir -p /usr/lib/debug/.build-id
cp -an "$work/root/usr/lib/debug/.build-id/." /usr/lib/debug/.build-id/
rm -rf "$prefix.new"
mkdir -p "$(dirname "$prefix")"
mv "$work/root" "$prefix.new"
lib=$prefix/usr/lib/x86_64-linux-gnu
patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib" "$prefix.new/usr/bin/python3.$minor"
touch "$prefix.new/.giltrace-install"
rm -rf "$prefix"
mv "$prefix.new" "$prefix"
# The standard library's bytecode, as the package's postinst would make it
# (py3compile): without it every run compiles what it imports (0.3 s of a
# multiprocessing program's parent, which then looks busy in its traces).
"$py" -m compileall -q -j 2 "$prefix/usr/lib/python3.$minor" >/dev/null || true
"$py" -c 'import sys, ssl, threading; print("install-debian-python: " + sys.executable + " " + sys.version.split()[0])'
