# fish completion for galley: verbs, their options, session ids and names.
# The words come from `galley complete` (the command table itself).
function __galley_verb
	set -l words (commandline -opc)
	echo $words[2]
end
complete -c galley -f
complete -c galley -n '__fish_use_subcommand' -a '(galley complete verbs 2>/dev/null)'
complete -c galley -n 'not __fish_use_subcommand; and not string match -q -- "-*" (commandline -ct)' -a '(galley complete args (__galley_verb) 2>/dev/null)'
complete -c galley -n 'not __fish_use_subcommand; and string match -q -- "-*" (commandline -ct)' -a '(galley complete options (__galley_verb) 2>/dev/null)'
