package cmdutil

import (
	"github.com/spf13/cobra"
)

// ExactArgs is cobra.ExactArgs returning a usage error that says what is
// missing.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return FlagErrorf("missing %s", what)
		}
		if len(args) > n {
			return FlagErrorf("too many arguments: %q", args[n:])
		}
		return nil
	}
}

// EnumFlag validates a string flag against allowed values.
func EnumFlag(name, value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return FlagErrorf("invalid --%s %q: want one of %q", name, value, allowed)
}
