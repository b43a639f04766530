#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# cli-docs: the docs cannot drift from the program.
#  - every usage block of docs/cli.md is the text `--help` prints, byte
#    for byte (the top block: `sensor-agent --help`; under "## sensor-agent
#    COMMAND": `sensor-agent COMMAND --help`);
#  - every man page docs/man/sensor-agent-COMMAND.1.scd lists exactly the
#    options that `COMMAND --help` lists;
#  - the bash completion offers exactly those options and the commands.
#
# usage: docs.sh SENSOR_AGENT SOURCE_DIR
set -u
T=$1
SRC=$2
D=$(mktemp -d "${TMPDIR:-/tmp}/sa-docs.XXXXXX")
trap 'rm -rf "$D"' EXIT
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

CMDS="decode record capture trigger baseline analyze watch report fleet"

# the fenced block that follows the heading "## sensor-agent $1" (or, for
# "", the first block that starts with Usage:)
doc_block() {
	awk -v cmd="$1" '
		/^## / { insec = (cmd != "" && $0 ~ "^## sensor-agent " cmd "( |$)") }
		/^```/ {
			if (inblock) { if (want) exit; inblock = 0; next }
			inblock = 1; first = 1; next
		}
		inblock && first {
			first = 0
			want = (cmd == "" && !done && /^Usage: sensor-agent \[/) ||
			       (cmd != "" && insec && !done)
			if (want) done = 1
		}
		inblock && want { print }
	' "$SRC/docs/cli.md"
}

# the options a --help text lists (lines that start with an option)
help_opts() {
	sed -n -E 's/^ {2,6}(-[A-Za-z]), (--[a-z][a-z0-9-]*).*/\1 \2/p
		s/^ {2,6}(--[a-z][a-z0-9-]*).*/\1/p' | tr ' ' '\n' | sort -u
}

# the options a scdoc page lists as items (*-p*, *--pid* _PID_)
man_opts() {
	sed -n -E 's/^\*(-[A-Za-z])\*, \*(--[a-z][a-z0-9-]*)\*.*/\1 \2/p
		s/^\*(--[a-z][a-z0-9-]*)\*.*/\1/p' "$1" | tr ' ' '\n' |
		sort -u
}

# docs/cli.md usage blocks == --help
"$T" --help >"$D/help" || fail "sensor-agent --help"
doc_block "" >"$D/doc"
[ -s "$D/doc" ] || fail "docs/cli.md: no top usage block"
diff -u "$D/doc" "$D/help" >"$D/diff" ||
	{ fail "docs/cli.md top block differs from --help:"; cat "$D/diff"; }
for c in $CMDS; do
	"$T" "$c" --help >"$D/help.$c" || fail "$c --help"
	doc_block "$c" >"$D/doc.$c"
	[ -s "$D/doc.$c" ] || fail "docs/cli.md: no block under '## sensor-agent $c'"
	diff -u "$D/doc.$c" "$D/help.$c" >"$D/diff" || {
		fail "docs/cli.md block of $c differs from '$c --help' (-doc +help):"
		cat "$D/diff"
	}
done

# man pages list the options of --help
for c in $CMDS; do
	page=$SRC/docs/man/sensor-agent-$c.1.scd
	[ -f "$page" ] || { fail "no $page"; continue; }
	help_opts <"$D/help.$c" >"$D/h"
	man_opts "$page" >"$D/m"
	[ -s "$D/h" ] || fail "$c --help lists no option"
	diff -u "$D/m" "$D/h" >"$D/diff" || {
		fail "sensor-agent-$c.1.scd and '$c --help' list other options (-man +help):"
		cat "$D/diff"
	}
done
help_opts <"$D/help" >"$D/h"
man_opts "$SRC/docs/man/sensor-agent.1.scd" >"$D/m"
diff -u "$D/m" "$D/h" >"$D/diff" || {
	fail "sensor-agent.1.scd and --help list other options (-man +help):"
	cat "$D/diff"
}

# the bash completion
if command -v bash >/dev/null; then
	comp=$SRC/src/tool/dist/sensor-agent.bash
	for c in "" $CMDS; do
		words="$T $c"
		[ "$c" = baseline ] && words="$T baseline add"
		[ "$c" = fleet ] && words="$T fleet push"
		bash -c '
			. "$1"; shift
			COMP_WORDS=("$@" -); COMP_CWORD=$(($# ))
			_sensor_agent
			printf "%s\n" "${COMPREPLY[@]}"' \
			sh "$comp" $words | sort -u >"$D/c"
		if [ -z "$c" ]; then
			help_opts <"$D/help" >"$D/h"
		else
			help_opts <"$D/help.$c" >"$D/h"
		fi
		diff -u "$D/c" "$D/h" >"$D/diff" || {
			fail "completion of '$c -' differs from --help (-completion +help):"
			cat "$D/diff"
		}
	done
	bash -c '. "$1"; COMP_WORDS=("$2" ""); COMP_CWORD=1; _sensor_agent
		printf "%s\n" "${COMPREPLY[@]}"' sh "$comp" "$T" |
		sort >"$D/c"
	{ sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' "$D/help"
	  echo help; } | sort >"$D/h"
	grep -q decode "$D/h" || fail "--help lists no commands"
	diff -u "$D/c" "$D/h" >"$D/diff" ||
		{ fail "completion of commands differs:"; cat "$D/diff"; }
fi

if [ $fails -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "cli-docs: docs/cli.md, man pages and completion agree with --help"
