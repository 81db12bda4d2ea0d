package ucspi

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
)

// FuzzReadOnlyMapping: any line gives a range only if it is a well-formed,
// non-writable mapping of the inode, with its start below its end.
func FuzzReadOnlyMapping(f *testing.F) {
	f.Add("00400000-00585000 r-xp 00000000 fd:01 1234 /usr/bin/ucspi\n", uint64(1234))
	f.Add("00766000-00786000 rw-p 00366000 fd:01 1234 /usr/bin/ucspi\n", uint64(1234))
	f.Add("7ffe4a6f9000-7ffe4a71a000 rw-p 00000000 00:00 0 [stack]\n", uint64(0))
	f.Add("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]", uint64(0))
	f.Add("5000-4000 r--p 0 0:0 7 x", uint64(7))
	f.Fuzz(func(t *testing.T, line string, ino uint64) {
		start, end, ok := readOnlyMapping(line, ino)
		if !ok {
			return
		}
		f := strings.Fields(line)
		if start >= end || f[1][1] == 'w' || f[4] != strconv.FormatUint(ino, 10) {
			t.Fatalf("%q: %#x-%#x", line, start, end)
		}
	})
}

// TestDropReadOnly: the test binary's own text and read-only data leave its
// resident set, and it goes on running from the page cache.
func TestDropReadOnly(t *testing.T) {
	before := rssFile(t)
	dropReadOnly()
	after := rssFile(t)
	t.Logf("RssFile %d kB, then %d kB", before, after)
	if after >= before {
		t.Errorf("RssFile %d kB, then %d kB", before, after)
	}
}

func rssFile(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Skip("no RssFile")
	return 0
}

// TestResetGoal: a collection leaves the heap goal at least the sweeper's 1 MB
// of runway above the live heap, whatever GOGC says; set again once the sweep
// is over (runtime.GC sweeps before it returns), the goal comes without it.
func TestResetGoal(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(gcPercent))
	samples := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/heap/live:bytes"}}
	runway := func() int64 {
		metrics.Read(samples)
		return int64(samples[0].Value.Uint64()) - int64(samples[1].Value.Uint64())
	}
	runtime.GC()
	if r := runway(); r < 1<<20 {
		t.Fatalf("after a collection the goal is %d bytes above the live heap, not 1 MB or more: the runtime has changed, and resetGoal may no longer be needed", r)
	}
	resetGoal()
	if r := runway(); r >= 1<<20 {
		t.Errorf("after resetGoal the goal is still %d bytes above the live heap", r)
	}
}
