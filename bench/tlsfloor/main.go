// Command tlsfloor is the floor for a TLS server's CPU per connection: a Go
// server that accepts, makes the handshake with crypto/tls as sslserver does
// (the same certificate, X25519 as the client offers), writes "ok\n" and
// closes, with no program, no relay and no lookups. make bench reads its CPU
// time per connection as the handshake's own cost, to tell it apart from
// what sslserver adds (the spawn, the socketpair, the relay).
//
//	tlsfloor -addr 127.0.0.1:8443 -cert cert.pem -key key.pem
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "listen on `host:port`")
	cert := flag.String("cert", "", "the certificate `file`")
	key := flag.String("key", "", "its key `file`")
	flag.Parse()
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			tc := tls.Server(c, cfg)
			if tc.Handshake() == nil {
				tc.Write([]byte("ok\n"))
				tc.CloseWrite()
			}
		}()
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "tlsfloor:", err)
	os.Exit(111)
}
