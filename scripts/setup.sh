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
	# debug files from debuginfod servers (libdwfl loads the client
	# library when DEBUGINFOD_URLS is set); the server for its test
	libdebuginfod1 debuginfod
	# peers the tests compare with, and ground-truth tools
	linux-perf libopencsd-bin binutils binutils-aarch64-linux-gnu
	binutils-arm-linux-gnueabihf
	# the HTML report's test loads it in a headless browser
	chromium
	# libFuzzer and the sanitizer runtimes (CI's fuzz smoke run)
	clang libclang-rt-14-dev
	# the fast Intel PT backend decodes blocks with Zydis (AVX-512 too)
	libzydis-dev
	# tests/fastpt and the benchmark: real runs under qemu-user as Intel PT
	qemu-user
	# OTLP export (src/otlp): HTTP, gzip, protobuf-c; npm fetches the
	# official .proto files, protoc decodes them in the tests
	libcurl4-openssl-dev zlib1g-dev libprotobuf-c-dev protobuf-c-compiler
	protobuf-compiler
	# the fleet store (libcurl, above) and its test servers (docs/fleet.md)
	clickhouse-server clickhouse-client
	# man pages (scdoc) and their render test (man-db), sd_notify
	# (libsystemd-dev), systemd-analyze verify of the units (systemd)
	scdoc man-db libsystemd-dev systemd
)
# npm fetches the .proto files below: the machine's own (Node.js) serves;
# Debian's only where there is none, as it conflicts with a Node.js that
# did not come from Debian
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
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

# The official opentelemetry-proto definitions, as an npm package ships
# them (docs/otlp.md): http/protobuf is built from them when present.
otlp_pkg=@opentelemetry/otlp-grpc-exporter-base@0.38.0
otlp_dir=${XDG_CACHE_HOME:-$HOME/.cache}/sensor-agent/otlp-grpc-exporter-base-0.38.0
if [ ! -f "$otlp_dir/package/build/protos/opentelemetry/proto/logs/v1/logs.proto" ]; then
	mkdir -p "$otlp_dir"
	otlp_tgz=opentelemetry-otlp-grpc-exporter-base-0.38.0.tgz
	otlp_sum=d18571f5b755106c9e681ee45886dd523ac30715a30dca8ff411646b9cc09064
	if ! (cd "$otlp_dir" && npm pack --silent "$otlp_pkg" >/dev/null &&
		echo "$otlp_sum  $otlp_tgz" | sha256sum -c --quiet &&
		tar xzf "$otlp_tgz"); then
		echo "setup: could not fetch $otlp_pkg with npm:" \
			"--otlp-protocol http/protobuf will not be built" >&2
	fi
fi

build=${BUILD:-build}
if [ ! -f "$build/build.ninja" ]; then
	# shellcheck disable=SC2086
	meson setup "$build" ${MESON_ARGS:-} >/dev/null
fi
ninja -C "$build" >/dev/null
echo "setup: built $build/src/tool/sensor-agent" >&2
