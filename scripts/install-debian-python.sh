#!/usr/bin/env bash
# install-debian-python.sh MINOR [PREFIX]
#
# Installs Debian unstable's build of CPython 3.MINOR (with its debug
# symbols) into PREFIX (default /opt/giltrace-python/3.MINOR), for the tests
# that trace a distribution's link-time optimised interpreter newer than this
# machine's Debian has: 3.14 and 3.15 (source/cpython TestRecordLTO,
# TestCountdownVersions, TestUnjoinedThreads). It runs on any Debian or
# Ubuntu, as root:
#
#   - the packages (python3.MINOR, its -minimal, libpython3.MINOR-minimal and
#     -stdlib, python3.MINOR-dbg for the debug file) and the libraries they
#     need from unstable (glibc, expat, zlib, OpenSSL, libffi, zstd) are
#     downloaded from the Debian archive and checked: the release file's
#     signature (gpgv, the archive keyring: one good signature and no bad
#     one, as apt wants), the package list's and each package's SHA-256. Not
#     the release file's Valid-Until, which apt checks too: this
#     workplace's mirror is a frozen snapshot whose release file has
#     expired. They are unpacked into PREFIX, not installed with dpkg;
#   - PREFIX/usr/bin/python3.MINOR is made to load unstable's glibc from
#     PREFIX (patchelf: its program interpreter and run path). Its code and
#     addresses are unchanged; patchelf adds a segment, so its file offsets
#     differ from the package's binary (giltrace reads them from the file);
#   - the interpreter's debug file goes where giltrace and gdb look for it,
#     /usr/lib/debug/.build-id/, as python3.MINOR-dbg would put it (outside
#     PREFIX: the one change to the system, with patchelf if missing);
#   - the standard library is compiled to bytecode, as the package's
#     installation does.
#
# Debian unstable changes: this installs the build the archive serves on
# the day (3.14.10 and 3.15.2 on 2026-12-05, from unstable's release file
# of 2026-10-30).
#
# Then: giltrace record -- PREFIX/usr/bin/python3.MINOR app.py
#
# Idempotent: a PREFIX that this script made and whose interpreter runs is
# kept. A PREFIX that it did not make is refused, and it removes nothing
# but its own staging directory.
set -euo pipefail
minor=${1:?usage: install-debian-python.sh MINOR [PREFIX]}
if ! [[ $minor =~ ^[0-9]+$ ]]; then
	echo "install-debian-python: MINOR must be a number, such as 14: got $minor" >&2
	exit 2
fi
prefix=${2:-/opt/giltrace-python/3.$minor}
if [[ $prefix != /* ]]; then
	echo "install-debian-python: PREFIX must be an absolute path (it is written into the interpreter): got $prefix" >&2
	exit 2
fi
prefix=${prefix%/}
if [ -z "$prefix" ]; then
	echo "install-debian-python: PREFIX cannot be /" >&2
	exit 2
fi
py=$prefix/usr/bin/python3.$minor
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
curl=(curl -fsS --retry 3 --connect-timeout 30 --max-time 600)

# A PREFIX this script did not make is left alone.
if [ -e "$prefix" ] && [ ! -e "$prefix/.giltrace-install" ]; then
	echo "install-debian-python: $prefix exists and was not made by this script: choose another PREFIX" >&2
	exit 1
fi
if [ -x "$py" ] && "$py" -c 'import ssl, threading' >/dev/null 2>&1; then
	# Its debug files, should they have been removed since.
	mkdir -p /usr/lib/debug/.build-id
	cp -an "$prefix/usr/lib/debug/.build-id/." /usr/lib/debug/.build-id/
	"$py" -m compileall -q -j 2 "$prefix/usr/lib/python3.$minor" >/dev/null || true
	echo "install-debian-python: $py is installed"
	exit 0
fi
for tool in curl gpgv sha256sum xz dpkg-deb; do
	if ! command -v "$tool" >/dev/null; then
		echo "install-debian-python: $tool is missing" >&2
		exit 1
	fi
done
if [ ! -r "$keyring" ]; then
	echo "install-debian-python: no Debian archive keyring at $keyring (apt-get install debian-archive-keyring)" >&2
	exit 1
fi
if ! command -v patchelf >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq -o DPkg::Lock::Timeout=300 patchelf >/dev/null
fi
mkdir -p "$(dirname "$prefix")"
# The staging directory, beside PREFIX (the same file system, for the move),
# is this script's own: the only thing it removes.
stage=$(mktemp -d "$(dirname "$prefix")/.giltrace-python.XXXXXX")
trap 'rm -rf "$stage"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

echo "install-debian-python: reading unstable's release file from $mirror"
"${curl[@]}" -o "$stage/InRelease" "$mirror/dists/sid/InRelease"
# As apt: at least one good signature by a key of the keyring, and no bad
# one (a signature by a key it lacks, say a newer one, is not an error).
gpgv --status-fd 3 --keyring "$keyring" --output "$stage/Release" "$stage/InRelease" 2>"$stage/gpgv.log" 3>"$stage/gpgv.status" || true
if ! grep -q '^\[GNUPG:\] VALIDSIG ' "$stage/gpgv.status" || grep -q '^\[GNUPG:\] BADSIG ' "$stage/gpgv.status"; then
	echo "install-debian-python: the signature of $mirror/dists/sid/InRelease does not verify:" >&2
	cat "$stage/gpgv.log" >&2
	exit 1
fi
want=$(awk '/^SHA256:/ { in256 = 1; next } /^[^ ]/ { in256 = 0 } in256 && $3 == "main/binary-amd64/Packages.xz" { print $1 }' "$stage/Release")
"${curl[@]}" -o "$stage/Packages.xz" "$mirror/dists/sid/main/binary-amd64/Packages.xz"
if [ -z "$want" ] || [ "$(sha256sum <"$stage/Packages.xz" | cut -d' ' -f1)" != "$want" ]; then
	echo "install-debian-python: the package list's SHA-256 is not the release file's" >&2
	exit 1
fi
xz -d "$stage/Packages.xz"
pkgs="python3.$minor python3.$minor-minimal libpython3.$minor-minimal libpython3.$minor-stdlib python3.$minor-dbg
libc6 libexpat1 zlib1g libssl3t64 libffi8 libzstd1"
mkdir "$stage/root"
for p in $pkgs; do
	read -r f sum < <(awk -v p="$p" '$1 == "Package:" { cur = $2 } cur == p && $1 == "Filename:" { f = $2 } cur == p && $1 == "SHA256:" { s = $2 } cur == p && f && s { print f, s; exit }' "$stage/Packages") || true
	if [ -z "${f:-}" ] || [ -z "${sum:-}" ]; then
		echo "install-debian-python: Debian unstable has no package $p" >&2
		exit 1
	fi
	echo "install-debian-python: $f"
	"${curl[@]}" -o "$stage/p.deb" "$mirror/$f"
	if [ "$(sha256sum <"$stage/p.deb" | cut -d' ' -f1)" != "$sum" ]; then
		echo "install-debian-python: $f: its SHA-256 is not the package list's" >&2
		exit 1
	fi
	dpkg-deb -x "$stage/p.deb" "$stage/root"
	f='' sum=''
done
# The debug files (the interpreter's, and those of the debug build
# python3.MINOR-dbg brings) by build ID, as the package would install them.
mkdir -p /usr/lib/debug/.build-id
cp -an "$stage/root/usr/lib/debug/.build-id/." /usr/lib/debug/.build-id/
lib=$prefix/usr/lib/x86_64-linux-gnu
patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib" "$stage/root/usr/bin/python3.$minor"
touch "$stage/root/.giltrace-install"
# PREFIX, if it exists, was made by this script (checked above).
rm -rf "$prefix"
mv "$stage/root" "$prefix"
# The standard library's bytecode, as the package's postinst would make it
# (py3compile): without it every run compiles what it imports (0.3 s of a
# multiprocessing program's parent, which then looks busy in its traces).
"$py" -m compileall -q -j 2 "$prefix/usr/lib/python3.$minor" >/dev/null || true
"$py" -c 'import sys, ssl, threading; print("install-debian-python: " + sys.executable + " " + sys.version.split()[0])'
