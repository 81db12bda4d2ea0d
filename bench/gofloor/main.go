// Command gofloor is the Go floor of start-up: a static Go program that does
// nothing but exec its arguments, as argv0 does. No Go program can start and
// exec faster; make bench compares our applets' start with it and with C's.
package main

import (
	"os"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		os.Exit(100)
	}
	syscall.Exec(os.Args[1], os.Args[2:], os.Environ())
	os.Exit(111)
}
