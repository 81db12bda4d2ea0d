package ucspi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// maxInfo is where 0.88 stops reading an ident reply: past 256 bytes the answer is
// taken as it stands.
const maxInfo = 256

// RemoteInfo asks the peer's RFC 1413 (ident) server, from our own address, who
// owns the connection local<->remote, and returns the reply's last field. The
// whole exchange, connecting included, is bounded by timeout.
func RemoteInfo(local, remote netip.AddrPort, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: local.Addr().Unmap().AsSlice()}}
	c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(remote.Addr().Unmap(), 113).String())
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(c, "%d , %d\r\n", remote.Port(), local.Port()); err != nil {
		return "", err
	}
	return parseIdent(bufio.NewReaderSize(c, 128))
}

// parseIdent reads "ports : USERID : OS : info" up to the newline and returns
// info, with spaces, tabs and CRs removed everywhere as 0.88 does.
func parseIdent(r *bufio.Reader) (string, error) {
	var info []byte
	colons := 0
	for {
		ch, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return "", err
			}
			return "", fmt.Errorf("ident reply ends early: %w", err)
		}
		switch {
		case ch == ' ' || ch == '\t' || ch == '\r':
		case ch == '\n':
			return string(info), nil
		case colons < 3:
			if ch == ':' {
				colons++
			}
		default:
			info = append(info, ch)
			if len(info) > maxInfo {
				return string(info), nil
			}
		}
	}
}
