# bash completion for sensor-agent                          -*- shell-script -*-
# SPDX-License-Identifier: BSD-2-Clause
#
# The commands and options come from the program's own --help at
# completion time, so that they cannot drift from it (tests/cli/docs.sh
# checks the result against --help and the man pages).

# _sensor_agent_opts PROG [COMMAND [SUB]]: the long and short options that
# PROG [COMMAND] --help lists, one a line
_sensor_agent_opts()
{
	"$@" --help 2>/dev/null |
		sed -n -E 's/^ {2,6}(-[A-Za-z]), (--[a-z][a-z0-9-]*).*/\1\n\2/p
			s/^ {2,6}(--[a-z][a-z0-9-]*).*/\1/p'
}

# _sensor_agent_cmds PROG: the commands of PROG --help
_sensor_agent_cmds()
{
	"$1" --help 2>/dev/null |
		sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'
	echo help
}

_sensor_agent()
{
	local cur prev prog cmd sub i w
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	prog=${COMP_WORDS[0]}
	cmd=
	sub=
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--) return 0 ;;	# record's command: the shell's completion
		-p | --pid)
			[[ -z $cmd ]] && cmd=watch
			((i++))
			;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=$w
			elif [[ ($cmd == baseline || $cmd == fleet) &&
				-z $sub ]]; then
				sub=$w
			fi
			;;
		esac
	done

	case $prev in
	--backend)
		mapfile -t COMPREPLY < <(compgen -W \
			'auto intel_pt cs_etm emulate' -- "$cur")
		return 0
		;;
	-f | --format)
		mapfile -t COMPREPLY < <(compgen -W "$("$prog" ${cmd:+$cmd} \
			${sub:+$sub} --help 2>/dev/null | sed -n -E \
			's/.*--format (text[|a-z]*).*/\1/p' | head -n 1 |
			tr '|' ' ')" -- "$cur")
		return 0
		;;
	-p | --pid)
		mapfile -t COMPREPLY < <(compgen -W \
			"$(cd /proc && echo [0-9]*)" -- "$cur")
		return 0
		;;
	-o | --output | -i | --input | --db | --config | -b | --binary | \
	--symfs | --keep-windows | --cache-dir | --bundle | --socket | --pt | \
	--image | \
	--cs-trace | --sysfs | --html | --timeline | --source-dir | --spool | \
	--jsonl)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
		;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W \
				"$(_sensor_agent_opts "$prog")" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W \
				"$(_sensor_agent_cmds "$prog")" -- "$cur")
		fi
		return 0
	fi
	if [[ $cmd == help ]]; then
		mapfile -t COMPREPLY < <(compgen -W \
			"$(_sensor_agent_cmds "$prog")" -- "$cur")
		return 0
	fi
	if [[ $cmd == baseline && -z $sub ]]; then
		mapfile -t COMPREPLY < <(compgen -W 'add list diff' -- "$cur")
		return 0
	fi
	if [[ $cmd == fleet && -z $sub ]]; then
		mapfile -t COMPREPLY < <(compgen -W 'init push analyze' \
			-- "$cur")
		return 0
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W \
			"$(_sensor_agent_opts "$prog" "$cmd" ${sub:+"$sub"})" \
			-- "$cur")
	else
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	fi
	return 0
}
complete -F _sensor_agent sensor-agent
