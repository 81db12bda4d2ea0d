package applets

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ucspi-go/ucspi/internal/reftest"
)

// TestClientsWriteErrorsAgainstReference: who@, date@, finger@ and http@
// writing to a full disk (/dev/full) say what the scripts' cat or awk said and
// exit with its status: cat stops at its first write (exit 1); awk's stdio
// buffer, the size of the output's blocks, fails when it first overflows or
// only at the end (exit 2). Nothing written, nothing failed. The scripts
// hard-wire their ports, so each server has its turn on a spare address.
func TestClientsWriteErrorsAgainstReference(t *testing.T) {
	const ip = "127.0.44.13"
	bodies := map[string]string{
		"empty":      "",
		"one line":   "line\r\n",
		"4096 bytes": strings.Repeat("b", 4095) + "\n",
		"4097 bytes": strings.Repeat("b", 4096) + "\n",
		"long":       strings.Repeat("a longer line of the reply\r\n", 400),
	}
	for name, body := range bodies {
		for _, tc := range []struct {
			applet, port, end string
			args              []string
			reply             string
		}{
			{"who@", "11", "", []string{ip}, body},
			{"date@", "13", "", []string{ip}, body},
			{"finger@", "79", "\n", []string{ip, "joe"}, body},
			{"http@", "0", "\r\n\r\n", []string{ip, "x"}, "HTTP/1.0 200 OK\r\n\r\n" + body},
		} {
			t.Run(tc.applet+" "+name, func(t *testing.T) {
				port := fakeServer(t, ip+":"+tc.port, tc.end, func([]byte) []byte { return []byte(tc.reply) })
				args := tc.args
				if tc.port == "0" {
					args = append(args, port)
				}
				want := runToFull(t, reftest.Ref(t, tc.applet), args)
				got := runToFull(t, reftest.Ours(t, tc.applet), args)
				if !bytes.Equal(want.Stderr, got.Stderr) || want.Code != got.Code {
					t.Errorf("%q: reference %q exit %d, ours %q exit %d", args, want.Stderr, want.Code, got.Stderr, got.Code)
				}
				if body != "" && got.Code == 0 {
					t.Errorf("%q: ours wrote to /dev/full without a failure", args)
				}
			})
		}
	}
}

// runToFull runs prog with its output on /dev/full.
func runToFull(t *testing.T, prog string, args []string) reftest.Result {
	t.Helper()
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer full.Close()
	cmd := exec.Command(prog, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Stdout = full
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	err = cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatal(err)
	}
	return reftest.Result{Stderr: errOut.Bytes(), Code: cmd.ProcessState.ExitCode()}
}
