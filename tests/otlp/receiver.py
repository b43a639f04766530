#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A local OTLP/HTTP logs receiver for the tests: decodes each request
independently of sensor-agent and writes what it found, one field a line,
for the test to check.

JSON bodies are read with Python's json module and checked against the
OTLP JSON mapping (lowerCamelCase keys only, 64-bit integers as strings,
enums as numbers).  Protobuf bodies are decoded by `protoc --decode` (the
protobuf compiler, not protobuf-c) with the official opentelemetry-proto
definitions from --proto-dir.

  receiver.py --port-file F --out F [--fail N] [--proto-dir D]

The first N requests are answered 503 with "Retry-After: 1", the others
200.  Output, per request:
  request<TAB>path<TAB>content-type<TAB>content-encoding<TAB>status<TAB>t
then per log record "record", "K<TAB>V" lines and "end"; V is typed:
s:string, i:integer, d:double (repr), b:true|false.  Anything that breaks
the encoding rules is an "error<TAB>message" line.
"""
import argparse
import codecs
import gzip
import http.server
import json
import os
import re
import subprocess
import sys
import time

LOGS_SERVICE = "opentelemetry/proto/collector/logs/v1/logs_service.proto"
REQUEST = "opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest"

args = None
out = None
nreq = 0
severity_names = {}


class Bad(Exception):
    pass


def typed(v):
    if isinstance(v, bool):
        return "b:" + ("true" if v else "false")
    if isinstance(v, int):
        return "i:%d" % v
    if isinstance(v, float):
        return "d:" + repr(v)
    return "s:" + v


# ---- JSON (OTLP JSON mapping) ----

def only(obj, allowed, where):
    if not isinstance(obj, dict):
        raise Bad("%s is not an object" % where)
    for k in obj:
        if k not in allowed:
            raise Bad("%s: unexpected key %r" % (where, k))


def int64_str(v, where):
    if not isinstance(v, str) or not re.fullmatch(r"-?[0-9]+", v):
        raise Bad("%s: a 64-bit integer must be a decimal string, not %r"
                  % (where, v))
    return int(v)


def any_json(v, where):
    only(v, {"stringValue", "intValue", "doubleValue", "boolValue"}, where)
    if len(v) != 1:
        raise Bad("%s: one value expected" % where)
    (k, x), = v.items()
    if k == "stringValue":
        if not isinstance(x, str):
            raise Bad("%s: stringValue %r" % (where, x))
        return x
    if k == "intValue":
        return int64_str(x, where + ".intValue")
    if k == "boolValue":
        if not isinstance(x, bool):
            raise Bad("%s: boolValue %r" % (where, x))
        return x
    if isinstance(x, str) and x in ("NaN", "Infinity", "-Infinity"):
        return float(x.replace("Infinity", "inf"))
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise Bad("%s: doubleValue %r" % (where, x))
    return float(x)


def attrs_json(lst, where):
    res = []
    if not isinstance(lst, list):
        raise Bad("%s: attributes is not a list" % where)
    for i, kv in enumerate(lst):
        only(kv, {"key", "value"}, "%s[%d]" % (where, i))
        res.append((kv["key"], any_json(kv["value"], where + "." + kv["key"])))
    return res


def decode_json(body):
    req = json.loads(body)
    only(req, {"resourceLogs"}, "request")
    recs = []
    for rl in req["resourceLogs"]:
        only(rl, {"resource", "scopeLogs", "schemaUrl"}, "resourceLogs")
        only(rl["resource"], {"attributes", "droppedAttributesCount"},
             "resource")
        res = attrs_json(rl["resource"]["attributes"], "resource")
        for sl in rl["scopeLogs"]:
            only(sl, {"scope", "logRecords", "schemaUrl"}, "scopeLogs")
            only(sl["scope"], {"name", "version"}, "scope")
            scope = sl["scope"]
            for lr in sl["logRecords"]:
                only(lr, {"timeUnixNano", "observedTimeUnixNano",
                          "severityNumber", "severityText", "body",
                          "attributes", "droppedAttributesCount", "flags",
                          "traceId", "spanId"}, "logRecord")
                r = [("resource." + k, v) for k, v in res]
                r.append(("scope.name", scope.get("name", "")))
                if "version" in scope:
                    r.append(("scope.version", scope["version"]))
                for k in ("timeUnixNano", "observedTimeUnixNano"):
                    r.append((k, int64_str(lr[k], k)))
                sev = lr["severityNumber"]
                if isinstance(sev, bool) or not isinstance(sev, int):
                    raise Bad("severityNumber must be a number, not %r"
                              % (sev,))
                r.append(("severityNumber", sev))
                r.append(("severityText", lr["severityText"]))
                r.append(("body", any_json(lr["body"], "body")))
                r += [("attr." + k, v)
                      for k, v in attrs_json(lr.get("attributes", []),
                                             "logRecord")]
                recs.append(r)
    return recs


# ---- protobuf, through protoc --decode ----

def unescape(s):
    # protoc writes C escapes, non-ASCII bytes as octal
    return codecs.escape_decode(s.encode("ascii"))[0].decode("utf-8")


def parse_text(text):
    """protobuf text format -> nested lists of (name, value-or-list)."""
    root = []
    stack = [root]
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line == "}":
            stack.pop()
            continue
        m = re.fullmatch(r"(\w+) \{", line)
        if m:
            child = []
            stack[-1].append((m.group(1), child))
            stack.append(child)
            continue
        m = re.fullmatch(r'(\w+): (?:"(.*)"|(\S+))', line)
        if not m:
            raise Bad("protoc output: %r" % line)
        if m.group(2) is not None:
            stack[-1].append((m.group(1), unescape(m.group(2))))
        else:
            stack[-1].append((m.group(1), m.group(3)))
    return root


def get(msg, name):
    return [v for k, v in msg if k == name]


def any_pb(v):
    (k, x), = v
    if k == "string_value":
        return x
    if k == "int_value":
        return int(x)
    if k == "bool_value":
        return x == "true"
    if k == "double_value":
        return float(x)
    raise Bad("AnyValue %s" % k)


def attrs_pb(msg):
    res = []
    for kv in get(msg, "attributes"):
        key = get(kv, "key")[0]
        val = get(kv, "value")
        res.append((key, any_pb(val[0]) if val else ""))
    return res


def decode_pb(body):
    p = subprocess.run(["protoc", "--decode=" + REQUEST, "-I",
                        args.proto_dir, LOGS_SERVICE], input=body,
                       capture_output=True, timeout=30)
    if p.returncode:
        raise Bad("protoc --decode: " + p.stderr.decode(errors="replace"))
    req = parse_text(p.stdout.decode("ascii"))
    recs = []
    for rl in get(req, "resource_logs"):
        resource = get(rl, "resource")
        res = attrs_pb(resource[0]) if resource else []
        for sl in get(rl, "scope_logs"):
            scope = get(sl, "scope")
            scope = scope[0] if scope else []
            for lr in get(sl, "log_records"):
                r = [("resource." + k, v) for k, v in res]
                name = get(scope, "name")
                r.append(("scope.name", name[0] if name else ""))
                for v in get(scope, "version"):
                    r.append(("scope.version", v))
                for k, jk in (("time_unix_nano", "timeUnixNano"),
                              ("observed_time_unix_nano",
                               "observedTimeUnixNano")):
                    v = get(lr, k)
                    r.append((jk, int(v[0]) if v else 0))
                sev = get(lr, "severity_number")
                sev = sev[0] if sev else "SEVERITY_NUMBER_UNSPECIFIED"
                if sev not in severity_names:
                    raise Bad("severity_number %r" % sev)
                r.append(("severityNumber", severity_names[sev]))
                st = get(lr, "severity_text")
                r.append(("severityText", st[0] if st else ""))
                b = get(lr, "body")
                r.append(("body", any_pb(b[0]) if b else ""))
                r += [("attr." + k, v) for k, v in attrs_pb(lr)]
                recs.append(r)
    return recs


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def do_POST(self):
        global nreq
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        nreq += 1
        status = 503 if nreq <= args.fail else 200
        ctype = self.headers.get("Content-Type", "")
        cenc = self.headers.get("Content-Encoding", "")
        out.write("request\t%s\t%s\t%s\t%d\t%.3f\n" % (
            self.path, ctype, cenc, status, time.monotonic()))
        try:
            body = gzip.decompress(raw) if cenc == "gzip" else raw
            if ctype == "application/json":
                recs = decode_json(body)
            elif ctype == "application/x-protobuf":
                if not args.proto_dir:
                    raise Bad("protobuf without --proto-dir")
                recs = decode_pb(body)
            else:
                raise Bad("Content-Type %r" % ctype)
            for r in recs:
                out.write("record\n")
                for k, v in r:
                    out.write("%s\t%s\n" % (k, typed(v).replace(
                        "\\", "\\\\").replace("\n", "\\n")))
                out.write("end\n")
        except Exception as e:  # every failure is the test's business
            out.write("error\t%s\n" % str(e).replace("\n", " "))
        out.flush()
        if status == 503:
            reply = b"try later"
            self.send_response(503)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "text/plain")
        else:
            reply = b"{}" if ctype == "application/json" else b""
            self.send_response(200)
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def main():
    global args, out
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fail", type=int, default=0)
    ap.add_argument("--proto-dir", default="")
    args = ap.parse_args()
    if args.proto_dir:
        # the enum's names and numbers, from the official definition
        text = open(os.path.join(args.proto_dir,
                                 "opentelemetry/proto/logs/v1/logs.proto")
                    ).read()
        for name, num in re.findall(r"(SEVERITY_NUMBER_\w+)\s*=\s*(\d+)",
                                    text):
            severity_names[name] = int(num)
    out = open(args.out, "w")
    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
