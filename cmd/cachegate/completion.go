package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Subcommands of the commands that have them: what they accept and what
// completion offers.
var (
	tokenSubs      = []string{"create", "list", "revoke"}
	deadLetterSubs = []string{"list", "retry", "edit", "discard"}
	purgesSubs     = []string{"list", "show", "retry", "dismiss"}
	shells         = []string{"bash", "zsh", "fish"}
)

func subcommands() map[string][]string {
	return map[string][]string{"tokens": tokenSubs, "deadletters": deadLetterSubs, "purges": purgesSubs, "completion": shells}
}

// runCompletion prints a completion script for a shell:
//
//	cachegate completion bash|zsh|fish
//
// Commands and subcommands are written into the script; flags are asked
// of the binary itself (cachegate CMD -h) when completing, so they never
// go out of date.
func runCompletion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	shell, args, err := positional("completion", "a shell: bash, zsh or fish", args)
	if err != nil {
		return err
	}
	if err := parseFlags(newFlagSet("completion", stderr), args); err != nil {
		return err
	}
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	subs := subcommands()
	var cmds []string
	for k := range subs {
		cmds = append(cmds, k)
	}
	sort.Strings(cmds)
	switch shell {
	case "bash", "zsh":
		var cases strings.Builder
		for _, k := range cmds {
			fmt.Fprintf(&cases, "    %s) subs=%q ;;\n", k, strings.Join(subs[k], " "))
		}
		prefix := ""
		if shell == "zsh" {
			prefix = "autoload -U +X bashcompinit && bashcompinit\n"
		}
		fmt.Fprintf(stdout, bashScript, prefix, strings.Join(names, " "), cases.String())
	case "fish":
		fmt.Fprintln(stdout, "# cachegate completion for fish: cachegate completion fish | source")
		fmt.Fprintln(stdout, "complete -c cachegate -f")
		for _, c := range commands() {
			fmt.Fprintf(stdout, "complete -c cachegate -n '__fish_use_subcommand' -a %s -d %q\n", c.name, c.summary)
		}
		for _, k := range cmds {
			fmt.Fprintf(stdout, "complete -c cachegate -n '__fish_seen_subcommand_from %s' -a %q\n", k, strings.Join(subs[k], " "))
		}
		fmt.Fprintln(stdout, `complete -c cachegate -n 'not __fish_use_subcommand' -a '(cachegate (commandline -opc)[2] -h 2>&1 | string match -r -- "^\s+-[a-z-]+" | string trim | string replace -r "^-" "--")'`)
	default:
		return fmt.Errorf("%w: completion: unknown shell %q (%s)", errUsage, shell, strings.Join(shells, ", "))
	}
	return nil
}

// bashScript completes commands, then subcommands, then the flags that
// "cachegate CMD -h" lists. %s: zsh's prelude, the commands, the cases.
const bashScript = `# cachegate completion: source <(cachegate completion bash)
%s_cachegate() {
  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} subs=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "%s" -- "$cur"))
    return
  fi
  case "$cmd" in
%s  esac
  if [ "$COMP_CWORD" -eq 2 ] && [ -n "$subs" ] && [[ "$cur" != -* ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    return
  fi
  local flags
  flags=$(cachegate "$cmd" -h 2>&1 | sed -n 's/^ *-\([a-z-]*\).*/--\1/p')
  COMPREPLY=($(compgen -W "$flags" -- "$cur"))
}
complete -F _cachegate cachegate
`
