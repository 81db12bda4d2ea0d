package ssl

// A goroutine starts with a small stack (the runtime's average of the stacks
// it saw at the last collection, which a server's idle relays keep small) and
// grows by copying when a call needs more room: each copy looks up every frame
// on the stack to move its pointers. Left to itself, a connection's goroutine
// grew two or three times on its way into crypto/tls (reading the
// ClientHello, then signing), and the relay's goroutine once more sealing its
// first record, each time with a dozen frames or more to copy. Growing each
// goroutine to that size where it starts, with two or three frames on it, does
// the same allocation with almost nothing to copy: 3.6 growths a connection
// became 2 shallow ones, and the server's CPU about 9 µs (3%) less a
// connection, in six interleaved rounds at 8 in flight.

// HandshakeStack grows the calling goroutine's stack to the 16 KB that a
// server's handshake reaches, with an ECDSA or an RSA certificate alike.
//
//go:noinline
func HandshakeStack() {
	var room [14 << 10]byte // 16 KB, less what is already in use
	keep(room[:])
}

// recordStack grows the calling goroutine's stack to the 8 KB that sealing
// and writing a record reaches.
//
//go:noinline
func recordStack() {
	var room [6 << 10]byte
	keep(room[:])
}

// keep keeps the compiler from leaving room out of the frame.
//
//go:noinline
func keep(b []byte) { b[len(b)-1] = 0 }
