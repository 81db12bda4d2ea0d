//go:build ucspifault

package ucspi

import "bytes"

// Built with -tags ucspifault, for the tests only: a relay that reads
// "PANIC-IN-RELAY" panics, so that a test can see a fault in one connection
// end that connection and no other.
func init() {
	tlsFault = func(b []byte) {
		if bytes.Contains(b, []byte("PANIC-IN-RELAY")) {
			panic("injected fault")
		}
	}
}
