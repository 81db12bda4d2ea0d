package applets

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/ucspi/scan"
)

// choice is an option that stores a fixed value in a variable it may share with
// other options, so that "-q -v" ends verbose and "-v -q" quiet, as in djb's
// getopt loops where the last option given wins.
type choice[T any] struct {
	target *T
	value  T
}

func (c *choice[T]) String() string { return "" }
func (c *choice[T]) Type() string   { return "bool" }
func (c *choice[T]) Set(s string) error {
	if s != "true" {
		return fmt.Errorf("option takes no value")
	}
	*c.target = c.value
	return nil
}

// Choice defines -short (and --name) that sets *target to value.
func Choice[T any](fs *pflag.FlagSet, target *T, value T, name, short, usage string) {
	fs.VarPF(&choice[T]{target, value}, name, short, usage).NoOptDefVal = "true"
}

// ulong is a number option read like djb's scan_ulong: leading decimal digits,
// the rest ignored, so "-c 40x" is 40 and "-c x" is 0, as under 0.88.
type ulong struct{ target *uint64 }

func (u ulong) String() string { return fmt.Sprint(*u.target) }
func (u ulong) Type() string   { return "n" }
func (u ulong) Set(s string) error {
	*u.target, _ = scan.Ulong(s)
	return nil
}

// Ulong defines -short n (and --name n) read like scan_ulong.
func Ulong(fs *pflag.FlagSet, target *uint64, def uint64, name, short, usage string) {
	*target = def
	fs.VarP(ulong{target}, name, short, usage)
}
