//go:build !amd64 && !arm64

package startup

import (
	"os"
	"os/signal"
	"syscall"
	"unsafe"
)

// catchChildren, where there is no assembly handler, counts SIGCHLD on the
// eventfd from os/signal's channel: the same reaper, with the runtime's
// thread wake-ups.
func catchChildren() error {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGCHLD)
	go func() {
		for range signals {
			syscall.Write(int(childEvents), (*[8]byte)(unsafe.Pointer(&childOne))[:])
		}
	}()
	return nil
}
