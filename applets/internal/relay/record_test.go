package relay

import (
	"bytes"
	"strings"
	"testing"
)

func TestRecorder(t *testing.T) {
	long := strings.Repeat("x", 300) + "\n" + strings.Repeat("y", 250) + "\nend"
	for _, c := range []struct {
		dir    byte
		packet string
		want   string
	}{
		{'<', "test\n", "9 < test \n"},
		{'>', "test\ntest2\n", "9 > test \n9 > test2 \n"},
		{'<', "test", "9 < test+\n"},
		{'<', "a\x00b\n\n\nc", "9 < a\x00b \n9 <  \n9 <  \n9 < c+\n"},
		{'>', "\n", "9 >  \n"},
		// Long packets become one record per 256 bytes, as 0.88 reads them.
		{'<', long, "9 < " + strings.Repeat("x", 256) + "+\n" +
			"9 < " + strings.Repeat("x", 44) + " \n" +
			"9 < " + strings.Repeat("y", 211) + "+\n" +
			"9 < " + strings.Repeat("y", 39) + " \n" +
			"9 < end+\n"},
		{'>', strings.Repeat("z", 255) + "\n" + "q", "9 > " + strings.Repeat("z", 255) + " \n9 > q+\n"},
		{'>', strings.Repeat("z", 256) + "\n", "9 > " + strings.Repeat("z", 256) + "+\n9 >  \n"},
	} {
		var out bytes.Buffer
		NewRecorder(&out, "9").Data(c.dir, []byte(c.packet))
		if out.String() != c.want {
			t.Errorf("record of %q:\n got %q\nwant %q", c.packet, out.String(), c.want)
		}
	}
	var out bytes.Buffer
	r := NewRecorder(&out, "123")
	r.EOF('<')
	r.EOF('>')
	if out.String() != "123 < [EOF]\n123 > [EOF]\n" {
		t.Errorf("EOF records: %q", out.String())
	}
}

// writeSizes keeps the size of each write.
type writeSizes struct {
	sizes []int
	all   bytes.Buffer
}

func (w *writeSizes) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.all.Write(p)
}

// TestRecorderAtomic checks that a big packet's records go out in writes of at
// most PIPE_BUF bytes, each made of whole lines.
func TestRecorderAtomic(t *testing.T) {
	var w writeSizes
	packet := bytes.Repeat([]byte("0123456789abcdef\n"), 10000)
	NewRecorder(&w, "4242").Data('>', packet)
	if len(w.sizes) < 2 {
		t.Fatalf("%d writes", len(w.sizes))
	}
	off := 0
	for _, n := range w.sizes {
		chunk := w.all.Bytes()[off : off+n]
		if n > atomicSize || chunk[n-1] != '\n' || !bytes.HasPrefix(chunk, []byte("4242 > ")) {
			t.Fatalf("a write of %d bytes, starting %q, ending %q", n, chunk[:10], chunk[n-10:])
		}
		off += n
	}
	if back, err := unrecord(w.all.Bytes(), '>'); err != "" || !bytes.Equal(back, packet) {
		t.Fatalf("the records do not give the packet back (%s)", err)
	}
}

// FuzzRecorder checks that the records of any packet give the packet back and
// never carry more than 256 bytes of it.
func FuzzRecorder(f *testing.F) {
	f.Add([]byte("test\ntest2\n"))
	f.Add([]byte("partial"))
	f.Add([]byte(strings.Repeat("a\n", 200)))
	f.Fuzz(func(t *testing.T, packet []byte) {
		var out bytes.Buffer
		NewRecorder(&out, "1").Data('<', packet)
		back, err := unrecord(out.Bytes(), '<')
		if err != "" || !bytes.Equal(back, packet) {
			t.Fatalf("records %q give back %q (%s), not %q", out.Bytes(), back, err, packet)
		}
	})
}

// unrecord turns records of direction dir back into the bytes they show.
func unrecord(records []byte, dir byte) ([]byte, string) {
	var data []byte
	for len(records) > 0 {
		i := bytes.IndexByte(records, '\n')
		if i < 0 {
			return data, "unterminated record"
		}
		line := records[:i]
		records = records[i+1:]
		j := bytes.Index(line, []byte{' ', dir, ' '})
		if j <= 0 || len(line) < j+4 {
			return data, "bad record " + string(line)
		}
		text := line[j+3:]
		if len(text)-1 > packetSize {
			return data, "record too long"
		}
		switch text[len(text)-1] {
		case ' ':
			data = append(append(data, text[:len(text)-1]...), '\n')
		case '+':
			data = append(data, text[:len(text)-1]...)
		default:
			return data, "bad end " + string(line)
		}
	}
	return data, ""
}
