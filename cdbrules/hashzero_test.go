package cdbrules

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	colinmarc "github.com/colinmarc/cdb"

	"github.com/ucspi-go/ucspi/cdbrules/cdb"
	"github.com/ucspi-go/ucspi/internal/reftest"
)

// hashZeroKeys builds n distinct rules keys "=xxxyyy" whose cdb hash is 0, by
// meeting in the middle: forward from the hash of "=" over three letters,
// backward from 0 over three more (h = (h*33) ^ c undoes as (h ^ c) / 33).
func hashZeroKeys(n int) []string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789.ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	const inv33 uint32 = 0x3e0f83e1 // 33 * inv33 == 1 mod 2^32
	if thirtyThree := uint32(33); thirtyThree*inv33 != 1 {
		panic("inv33")
	}
	forward := map[uint32]string{}
	h0 := cdb.Hash([]byte("="))
	for _, a := range alphabet {
		for _, b := range alphabet {
			for _, c := range alphabet {
				h := h0
				for _, x := range []rune{a, b, c} {
					h = (h + h<<5) ^ uint32(x)
				}
				forward[h] = string([]rune{a, b, c})
			}
		}
	}
	var keys []string
	for _, c := range alphabet {
		for _, b := range alphabet {
			for _, a := range alphabet {
				// The last three letters are a, b, c: undo c, then b, then a.
				h := uint32(0)
				for _, x := range []rune{c, b, a} {
					h = (h ^ uint32(x)) * inv33
				}
				if front, ok := forward[h]; ok {
					keys = append(keys, "="+front+string([]rune{a, b, c}))
					if len(keys) == n {
						return keys
					}
				}
			}
		}
	}
	panic("not enough keys")
}

// The trap in the issue: a key whose hash is 0. djb's cdb_make takes a slot as
// empty when its position is 0; colinmarc/cdb's writer when its hash is 0, so
// it overwrites a hash-0 key with the next key probing into that slot (and its
// reader stops at one). Ours writes Debian's bytes, and both tcprulescheck
// programs find every key.
func TestHashZeroKeys(t *testing.T) {
	keys := hashZeroKeys(3)
	var rules strings.Builder
	for i, k := range keys {
		if cdb.Hash([]byte(k)) != 0 {
			t.Fatalf("%q hashes to %#x", k, cdb.Hash([]byte(k)))
		}
		fmt.Fprintf(&rules, "%s:allow,N=/%d/\n", k, i)
	}
	rules.WriteString(":deny\n")
	ours := compileOurs(t, []byte(rules.String()))

	// Every key is found in our file by our reader.
	r := newRules(ours)
	for i, k := range keys {
		data, found, err := r.r.Find([]byte(k))
		if err != nil || !found || string(data) != fmt.Sprintf("+N=%d\x00", i) {
			t.Errorf("our reader: %q: %q %v %v", k, data, found, err)
		}
	}

	// colinmarc/cdb's writer loses them: this is why we write our own.
	theirsPath := filepath.Join(t.TempDir(), "colinmarc.cdb")
	w, err := colinmarc.Create(theirsPath)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		w.Put([]byte(k), []byte(fmt.Sprintf("+N=%d\x00", i)))
	}
	w.Put(nil, []byte("D\x00"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	theirs, err := os.ReadFile(theirsPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(theirs, ours) {
		t.Error("colinmarc/cdb wrote the same bytes: the trap did not trigger")
	}
	if data, _, _ := newRules(theirs).r.Find([]byte(keys[0])); data != nil {
		t.Errorf("colinmarc/cdb kept the first hash-0 key (%q): the trap did not trigger", data)
	}

	ref := reftest.Ref(t, "tcprules")
	sameBytes(t, "hash-0 keys", compileRef(t, ref, []byte(rules.String())), ours)
	check := reftest.Ref(t, "tcprulescheck")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "o.cdb"), ours, 0644)
	for i, k := range keys {
		res := reftest.Run(t, check, reftest.Cmd{Args: []string{"o.cdb"}, Dir: dir, Env: []string{"TCPREMOTEIP=1.2.3.4", "TCPREMOTEHOST=" + k[1:]}})
		if want := fmt.Sprintf("rule %s:\nset environment variable N=%d\nallow connection\n", k, i); string(res.Stdout) != want {
			t.Errorf("reference tcprulescheck on our file: %q, want %q", res.Stdout, want)
		}
	}
}
