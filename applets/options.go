package applets

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// getopt reads the options at the front of args into fs, as djb's getopt does,
// and returns the operands: options may be combined (-vRHl0), an option's
// argument attached (-c40) or the next argument (-c 40), and the options end at
// the first argument that is not one ("-" included) or at "--", which is
// dropped. A bad letter or a missing argument is reported in getopt's words.
//
// Long options (--limit 40, --limit=40) are ours. 0.88's getopt took any
// argument starting with "--" for "--"; an unknown long option is a usage error
// here, so that a typo cannot start a server with the options after it ignored,
// while "--help" (which alone prints the manual, see Main) keeps 0.88's reading
// among other arguments.
func getopt(fs *pflag.FlagSet, args []string) ([]string, error) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return args[i+1:], nil
		case len(arg) < 2 || arg[0] != '-':
			return args[i:], nil
		case arg[1] == '-':
			name, value, attached := strings.Cut(arg[2:], "=")
			if name == "help" {
				return args[i+1:], nil
			}
			f := fs.Lookup(name)
			if f == nil {
				return nil, exit.Usage() // as 0.88 answers --foo: the usage line alone
			}
			if !attached {
				if f.NoOptDefVal != "" {
					value = f.NoOptDefVal
				} else if i++; i < len(args) {
					value = args[i]
				} else {
					return nil, exit.BadUsage("option requires an argument -- ", name)
				}
			}
			if err := f.Value.Set(value); err != nil {
				return nil, exit.BadUsage("option --", name, ": ", err.Error())
			}
		default:
			for j := 1; j < len(arg); j++ {
				letter := arg[j : j+1]
				f := fs.ShorthandLookup(letter)
				if f == nil {
					return nil, exit.BadUsage("illegal option -- ", letter)
				}
				if f.NoOptDefVal != "" {
					if err := f.Value.Set(f.NoOptDefVal); err != nil {
						return nil, exit.BadUsage("option -", letter, ": ", err.Error())
					}
					continue
				}
				value := arg[j+1:]
				if value == "" {
					if i++; i >= len(args) {
						return nil, exit.BadUsage("option requires an argument -- ", letter)
					}
					value = args[i]
				}
				if err := f.Value.Set(value); err != nil {
					return nil, exit.BadUsage("option -", letter, ": ", err.Error())
				}
				break
			}
		}
	}
	return nil, nil
}

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
		return errors.New("takes no value")
	}
	*c.target = c.value
	return nil
}

// Choice defines -short (and --name) that sets *target to value.
func Choice[T any](fs *pflag.FlagSet, target *T, value T, name, short, usage string) {
	fs.VarPF(&choice[T]{target, value}, name, short, usage).NoOptDefVal = "true"
}

// number is an option holding a decimal number no greater than max. 0.88 read
// such options with scan_ulong, which takes the leading digits and ignores the
// rest, so that "-c abc" was a limit of 0 (a server that never accepts); here
// anything but digits, or a number too large, is a usage error.
type number struct {
	target *uint64
	max    uint64
}

func (n number) String() string { return strconv.FormatUint(*n.target, 10) }
func (n number) Type() string   { return "n" }
func (n number) Set(s string) error {
	v, err := parseNumber(s, n.max)
	if err != nil {
		return err
	}
	*n.target = v
	return nil
}

// Number defines -short n (and --name n): a decimal number from 0 to max,
// def when the option is not given.
func Number(fs *pflag.FlagSet, target *uint64, def, max uint64, name, short, usage string) {
	*target = def
	fs.VarP(number{target, max}, name, short, usage)
}

// parseNumber reads s as a decimal number from 0 to max.
func parseNumber(s string, max uint64) (uint64, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("not a number: %s", s)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > max {
		return 0, fmt.Errorf("out of range (0 to %d): %s", max, s)
	}
	return v, nil
}
