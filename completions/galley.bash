# bash completion for galley: verbs, their options, session ids and names.
# The words come from `galley complete` (the command table itself).
_galley() {
	local cur=${COMP_WORDS[COMP_CWORD]} verb=${COMP_WORDS[1]} words
	if [ "$COMP_CWORD" -eq 1 ] || [ "$verb" = help ]; then
		words=$(galley complete verbs 2>/dev/null)
	elif [ "${cur#-}" != "$cur" ]; then
		words=$(galley complete options "$verb" 2>/dev/null)
	else
		words=$(galley complete args "$verb" 2>/dev/null)
	fi
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _galley galley
