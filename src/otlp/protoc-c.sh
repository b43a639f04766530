#!/bin/sh
# Generates the protobuf-c code of the OTLP logs service from the official
# .proto files in PROTO_DIR into OUTDIR, flat (meson outputs have no
# directories): common, resource, logs and logs_service .pb-c.[ch].
#
#   protoc-c.sh PROTOC_C PROTO_DIR OUTDIR
set -eu
protoc_c=$1 dir=$2 out=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
p=opentelemetry/proto
"$protoc_c" --c_out="$tmp" -I "$dir" "$p/common/v1/common.proto" \
	"$p/resource/v1/resource.proto" "$p/logs/v1/logs.proto" \
	"$p/collector/logs/v1/logs_service.proto"
for f in "$tmp/$p/common/v1/common" "$tmp/$p/resource/v1/resource" \
	"$tmp/$p/logs/v1/logs" "$tmp/$p/collector/logs/v1/logs_service"; do
	for ext in pb-c.c pb-c.h; do
		sed -E 's|#include "opentelemetry/proto/[a-z/0-9]*/([a-z_]+\.pb-c\.h)"|#include "\1"|' \
			"$f.$ext" >"$out/$(basename "$f").$ext"
	done
done
