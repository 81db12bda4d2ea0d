package relay

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucspi-go/ucspi/applets/internal/crlf"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// The transfer tests run this test binary itself as the program, in one of
// these modes, under our fixcrio and recordio.
const (
	peerEnv    = "RELAY_TEST_PEER"
	sizeEnv    = "RELAY_TEST_SIZE"
	resultEnv  = "RELAY_TEST_RESULT"
	writeFirst = "write-first"     // write everything, then read everything
	readFirst  = "read-first"      // read to the end of input, then write
	closeFirst = "close-out-first" // write everything, close output, then read
)

// stream is the pseudo-random data of one direction: all byte values, CRs and
// LFs included.
func stream(seed uint64, size int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{byte(seed)}), size)
}

// peer is the program's side: it writes and reads as its mode says, then leaves
// in the result file the SHA-256 and length of what it read.
func peer(mode string) int {
	size, _ := strconv.ParseInt(os.Getenv(sizeEnv), 10, 64)
	write := func() {
		if _, err := io.Copy(os.Stdout, stream(2, size)); err != nil {
			fmt.Fprintln(os.Stderr, "peer: writing:", err)
			os.Exit(1)
		}
	}
	var sum []byte
	var n int64
	read := func() {
		h := sha256.New()
		var err error
		if n, err = io.Copy(h, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, "peer: reading:", err)
			os.Exit(1)
		}
		sum = h.Sum(nil)
	}
	switch mode {
	case writeFirst:
		write()
		read()
	case readFirst:
		read()
		write()
	case closeFirst:
		write()
		os.Stdout.Close()
		read()
	}
	result := fmt.Sprintf("%x %d\n", sum, n)
	if err := os.WriteFile(os.Getenv(resultEnv), []byte(result), 0o644); err != nil {
		return 1
	}
	return 0
}

// childPeak is the largest resident size, in kB, of the children of process pid
// (the relay, for the program): VmHWM from /proc.
func childPeak(pid int) int {
	peak := 0
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, pid := range strings.Fields(string(b)) {
			status, _ := os.ReadFile("/proc/" + pid + "/status")
			for _, line := range strings.Split(string(status), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
					kb, _ := strconv.Atoi(f[1])
					peak = max(peak, kb)
				}
			}
		}
	}
	return peak
}

// transferSize is 100 MB each way; -short makes it 10.
func transferSize() int64 {
	if testing.Short() {
		return 10 << 20
	}
	return 100 << 20
}

func TestTransfer(t *testing.T) {
	for _, name := range []string{"fixcrio", "recordio"} {
		for _, mode := range []string{writeFirst, readFirst, closeFirst} {
			t.Run(name+"/"+mode, func(t *testing.T) { transfer(t, name, mode, transferSize()) })
		}
	}
}

// digest is the SHA-256 and length of a stream, as it should arrive.
type digest struct {
	sum string
	n   int64
}

func digestOf(r io.Reader) digest {
	h := sha256.New()
	n, _ := io.Copy(h, r)
	return digest{fmt.Sprintf("%x", h.Sum(nil)), n}
}

// fixed is what fixcrio makes of r.
func fixed(r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		var f crlf.Fixer
		buf := make([]byte, 64<<10)
		var out []byte
		for {
			n, err := r.Read(buf)
			out = f.Append(out[:0], buf[:n])
			pw.Write(out)
			if err != nil {
				pw.Close()
				return
			}
		}
	}()
	return pr
}

func transfer(t *testing.T, name, mode string, size int64) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	resultFile := filepath.Join(t.TempDir(), "result")
	cmd := exec.Command(reftest.Ours(t, name), self)
	cmd.Env = []string{"PATH=/usr/bin:/bin", peerEnv + "=" + mode, sizeEnv + "=" + strconv.FormatInt(size, 10), resultEnv + "=" + resultFile}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })

	wantIn, wantOut := digestOf(stream(1, size)), digestOf(stream(2, size))
	if name == "fixcrio" {
		wantIn, wantOut = digestOf(fixed(stream(1, size))), digestOf(fixed(stream(2, size)))
	}

	inDone := make(chan time.Time, 1)
	go func() {
		io.Copy(stdin, stream(1, size))
		stdin.Close()
		inDone <- time.Now()
	}()
	type outcome struct {
		d  digest
		at time.Time
	}
	outDone := make(chan outcome, 1)
	go func() {
		d := digestOf(stdout)
		outDone <- outcome{d, time.Now()}
	}()
	// The relay's peak memory, looked at while it runs.
	peakDone, stopPeak := make(chan int, 1), make(chan struct{})
	go func() {
		peak := 0
		for {
			peak = max(peak, childPeak(cmd.Process.Pid))
			select {
			case <-stopPeak:
				peakDone <- peak
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	recDone := make(chan [2]digest, 1)
	go func() { recDone <- digestRecords(stderr) }()

	timeout := time.After(3 * time.Minute)
	var out outcome
	var inAt time.Time
	var records [2]digest
	for got := 0; got < 3; got++ {
		select {
		case out = <-outDone:
		case inAt = <-inDone:
		case records = <-recDone:
		case <-timeout:
			t.Fatalf("%s %s: no end after 3 minutes", name, mode)
		}
	}
	close(stopPeak)
	peak := <-peakDone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s %s: %v", name, mode, err)
	}

	if out.d != wantOut {
		t.Errorf("output: got %d bytes %s, want %d bytes %s", out.d.n, out.d.sum, wantOut.n, wantOut.sum)
	}
	result, err := os.ReadFile(resultFile)
	if err != nil {
		t.Fatal(err)
	}
	var gotIn digest
	fmt.Sscanf(string(result), "%s %d", &gotIn.sum, &gotIn.n)
	if gotIn != wantIn {
		t.Errorf("the program read %d bytes %s, want %d bytes %s", gotIn.n, gotIn.sum, wantIn.n, wantIn.sum)
	}
	if name == "recordio" {
		if records[0] != wantIn || records[1] != wantOut {
			t.Errorf("the records show %v in and %v out, want %v and %v", records[0], records[1], wantIn, wantOut)
		}
	}
	if mode == closeFirst && !out.at.Before(inAt) {
		t.Errorf("the end of output came after the input was all taken (%v later): it waited for the input", out.at.Sub(inAt))
	}
	if peak == 0 || peak > 32<<10 {
		t.Errorf("the relay's peak resident size: %d kB", peak)
	}
	t.Logf("%s %s: %d MB each way, relay peak %d kB", name, mode, size>>20, peak)
}

// digestRecords reads recordio's records and digests what they show going in
// and going out; anything else on standard error is a failure.
func digestRecords(r io.Reader) [2]digest {
	h := [2]hash.Hash{sha256.New(), sha256.New()}
	var n [2]int64
	br := bufio.NewReaderSize(r, 1024)
	var bad digest
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			break
		}
		i := bytes.Index(line, []byte(" < "))
		j := bytes.Index(line, []byte(" > "))
		dir := 0
		if i < 0 || (j >= 0 && j < i) {
			i, dir = j, 1
		}
		if i < 0 {
			bad = digest{"not a record: " + string(line), 0}
			continue
		}
		text := line[i+3 : len(line)-1]
		if string(text) == "[EOF]" {
			continue
		}
		end := text[len(text)-1]
		text = text[:len(text)-1]
		h[dir].Write(text)
		n[dir] += int64(len(text))
		if end == ' ' {
			h[dir].Write([]byte{'\n'})
			n[dir]++
		}
	}
	if bad.sum != "" {
		return [2]digest{bad, bad}
	}
	return [2]digest{{fmt.Sprintf("%x", h[0].Sum(nil)), n[0]}, {fmt.Sprintf("%x", h[1].Sum(nil)), n[1]}}
}
