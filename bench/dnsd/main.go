// Command dnsd is the benchmark's DNS cache: internal/fakedns serving the zone
// given as arguments (master-file lines) on port 53 of a free 127.53.x.y,
// whose address it prints on a line of its own; it serves until killed.
package main

import (
	"fmt"
	"os"

	"github.com/ucspi-go/ucspi/internal/fakedns"
)

func main() {
	s, _, err := fakedns.Listen(os.Args[1:]...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dnsd:", err)
		os.Exit(111)
	}
	fmt.Println(s.IP)
	select {}
}
