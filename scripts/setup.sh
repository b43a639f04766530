#!/usr/bin/env bash
# Installs the Debian 12 packages that sensor-agent needs, when they are
# missing, and builds it with meson.
#
#   scripts/setup.sh                 build into ./build
#   BUILD=dir MESON_ARGS="..." scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(
	gcc g++ meson ninja-build pkg-config python3
	libipt-dev libopencsd-dev libcapstone-dev check
	libelf-dev libdw-dev libsqlite3-dev libiberty-dev
	# peers the tests compare with, and ground-truth tools
	linux-perf libopencsd-bin binutils binutils-aarch64-linux-gnu
	binutils-arm-linux-gnueabihf
	# libFuzzer and the sanitizer runtimes (CI's fuzz smoke run)
	clang libclang-rt-14-dev
	# the fleet store (libcurl) and its test servers (docs/fleet.md)
	libcurl4-openssl-dev zlib1g-dev clickhouse-server clickhouse-client
)
missing=()
for p in "${pkgs[@]}"; do
	[[ $p == \#* ]] && continue
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "setup: installing ${missing[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
fi

build=${BUILD:-build}
if [ ! -f "$build/build.ninja" ]; then
	# shellcheck disable=SC2086
	meson setup "$build" ${MESON_ARGS:-} >/dev/null
fi
ninja -C "$build" >/dev/null
echo "setup: built $build/src/tool/sensor-agent" >&2
