// Package cdb reads and writes D. J. Bernstein's constant databases exactly as
// his cdb_make and cdb_find do (cr.yp.to/cdb/cdb.txt).
package cdb

import (
	"bytes"
	"encoding/binary"
	"io"
	"syscall"
)

// The cdb format (cr.yp.to/cdb/cdb.txt): a 2048-byte header of 256 (position,
// slots) pairs, the records (key length, data length, key, data), then 256 hash
// tables of (hash, record position) slots. All numbers are little-endian uint32.
const headerSize = 256 * 8

// Hash is the cdb hash of key: h = ((h << 5) + h) ^ c from 5381.
func Hash(key []byte) uint32 {
	h := uint32(5381)
	for _, c := range key {
		h = (h + h<<5) ^ uint32(c)
	}
	return h
}

// slot is one hash-table entry: a key's hash and its record's position.
type slot struct{ h, p uint32 }

// Writer writes a cdb exactly as djb's cdb_make does, byte for byte: records in
// the order they are added, each table twice as long as its count of keys, keys
// placed by linear probing in the order they were added. A slot is empty when
// its position is 0 (records start at 2048, so no real position is 0), never
// when its hash is 0: a key can hash to 0, and testing the hash would overwrite it.
type Writer struct {
	w       io.WriteSeeker
	buf     []byte // written out only when full, as djb's buffer_putalign does
	pos     uint32
	entries []slot
	err     error
}

// bufferSize is eight times djb's 8192 bytes: an eighth of the write calls
// makes tcprules faster than 0.88's on large files. The one visible effect: when
// the disk fills, the write error surfaces a few lines later than under 0.88.
const bufferSize = 64 << 10

// errTooBig is what cdb_make reports when the file would pass 4 GiB.
var errTooBig = syscall.ENOMEM

// NewWriter starts a cdb on w, leaving room for the header.
func NewWriter(w io.WriteSeeker) (*Writer, error) {
	if _, err := w.Seek(headerSize, io.SeekStart); err != nil {
		return nil, err
	}
	return &Writer{w: w, buf: make([]byte, 0, bufferSize), pos: headerSize}, nil
}

// put is djb's buffer_putalign: fill the buffer, write it out whenever it is full.
func (c *Writer) put(b []byte) error {
	for len(b) > cap(c.buf)-len(c.buf) {
		n := cap(c.buf) - len(c.buf)
		c.buf = append(c.buf, b[:n]...)
		b = b[n:]
		if err := c.flush(); err != nil {
			return err
		}
	}
	c.buf = append(c.buf, b...)
	return nil
}

func (c *Writer) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.w.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

func (c *Writer) advance(n int) error {
	next := c.pos + uint32(n)
	if uint64(n) > 0xffffffff || next < c.pos {
		return errTooBig
	}
	c.pos = next
	return nil
}

// Add appends one record. Duplicate keys are kept; a reader finds the first.
func (c *Writer) Add(key, data []byte) error {
	if c.err != nil {
		return c.err
	}
	if 8+len(key)+len(data) <= cap(c.buf)-len(c.buf) {
		c.buf = binary.LittleEndian.AppendUint32(c.buf, uint32(len(key)))
		c.buf = binary.LittleEndian.AppendUint32(c.buf, uint32(len(data)))
		c.buf = append(append(c.buf, key...), data...)
	} else {
		var head [8]byte
		binary.LittleEndian.PutUint32(head[0:], uint32(len(key)))
		binary.LittleEndian.PutUint32(head[4:], uint32(len(data)))
		c.err = c.put(head[:])
		if c.err == nil {
			c.err = c.put(key)
		}
		if c.err == nil {
			c.err = c.put(data)
		}
		if c.err != nil {
			return c.err
		}
	}
	c.entries = append(c.entries, slot{Hash(key), c.pos})
	if c.err = c.advance(8); c.err == nil {
		if c.err = c.advance(len(key)); c.err == nil {
			c.err = c.advance(len(data))
		}
	}
	return c.err
}

// Finish writes the hash tables and the header. The file is complete only after it.
func (c *Writer) Finish() error {
	if c.err != nil {
		return c.err
	}
	var count, start [256]uint32
	for _, e := range c.entries {
		count[e.h&255]++
	}
	var u uint32
	for i := range start {
		start[i] = u
		u += count[i]
	}
	// A stable counting sort: each bucket keeps the order the keys were added in.
	split := make([]slot, len(c.entries))
	next := start
	for _, e := range c.entries {
		split[next[e.h&255]] = e
		next[e.h&255]++
	}
	var header [headerSize]byte
	table := make([]slot, 0, 2*maxCount(&count))
	taken := make([]byte, 0, 2*maxCount(&count)) // 1 for a slot in use
	out := make([]byte, 0, 16*maxCount(&count))
	for i := 0; i < 256; i++ {
		n := count[i] * 2
		binary.LittleEndian.PutUint32(header[8*i:], c.pos)
		binary.LittleEndian.PutUint32(header[8*i+4:], n)
		table, taken = table[:n], taken[:n]
		clear(table)
		clear(taken)
		for _, e := range split[start[i] : start[i]+count[i]] {
			// Linear probing from the key's slot to the next free one,
			// wrapping around; keys of similar text crowd together (ranges
			// above all), so the search runs through IndexByte.
			where := int((e.h >> 8) % n)
			if taken[where] != 0 {
				if free := bytes.IndexByte(taken[where:], 0); free >= 0 {
					where += free
				} else {
					where = bytes.IndexByte(taken, 0)
				}
			}
			taken[where] = 1
			table[where] = e
		}
		out = out[:0]
		for _, e := range table {
			out = binary.LittleEndian.AppendUint32(out, e.h)
			out = binary.LittleEndian.AppendUint32(out, e.p)
		}
		if err := c.put(out); err != nil {
			return err
		}
		if err := c.advance(len(out)); err != nil {
			return err
		}
	}
	if err := c.flush(); err != nil {
		return err
	}
	if _, err := c.w.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := c.w.Write(header[:])
	return err
}

func maxCount(count *[256]uint32) uint32 {
	m := uint32(0)
	for _, n := range count {
		m = max(m, n)
	}
	return m
}

// Reader finds keys in a cdb held in memory (a mapped file), following djb's
// cdb_findnext step by step, including its bounds checks: a read outside the
// file is a format error (EPROTO), so a corrupt or truncated file gives 0.88's
// error or 0.88's answer, never a crash and never a different answer.
type Reader struct {
	b []byte
}

// ErrFormat is djb's error_proto: the file is not a well-formed cdb.
var ErrFormat = syscall.EPROTO

// NewReader reads the cdb held in b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// read is cdb_read on a mapped file: len bytes at pos, or a format error.
func (r *Reader) read(pos, n uint32) ([]byte, error) {
	size := uint32(len(r.b))
	if pos > size || size-pos < n {
		return nil, ErrFormat
	}
	return r.b[pos : pos+n], nil
}

func (r *Reader) uint32s(pos uint32) (uint32, uint32, error) {
	b, err := r.read(pos, 8)
	if err != nil {
		return 0, 0, err
	}
	return binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]), nil
}

// Find returns the data of the first record whose key is key.
func (r *Reader) Find(key []byte) (data []byte, found bool, err error) {
	h := Hash(key)
	hpos, hslots, err := r.uint32s((h << 3) & 2047)
	if err != nil || hslots == 0 {
		return nil, false, err
	}
	kpos := hpos + ((h>>8)%hslots)<<3
	end := hpos + hslots<<3
	klen := uint32(len(key))
	// djb probes up to hslots slots. A corrupt header can claim 2^32 of them
	// in a table whose end wraps around inside the file, so the probe circles
	// there: once it has run longer than the file has slots, it is going round
	// a cycle that holds neither the key nor an empty slot, and djb's answer,
	// after all his probes, would be "not found". Stop there instead.
	limit := min(hslots, uint32(len(r.b)/8+2))
	for loop := uint32(0); loop < limit; loop++ {
		sh, pos, err := r.uint32s(kpos)
		if err != nil {
			return nil, false, err
		}
		if pos == 0 {
			return nil, false, nil
		}
		if kpos += 8; kpos == end {
			kpos = hpos
		}
		if sh != h {
			continue
		}
		kl, dl, err := r.uint32s(pos)
		if err != nil {
			return nil, false, err
		}
		if kl != klen {
			continue
		}
		switch same, err := r.match(key, pos+8); {
		case err != nil:
			return nil, false, err
		case same:
			data, err := r.read(pos+8+klen, dl)
			return data, err == nil, err
		}
	}
	return nil, false, nil
}

// match compares key with the bytes at pos 32 at a time, as djb's match does, so
// a key that differs early is rejected before a read past the end is noticed.
func (r *Reader) match(key []byte, pos uint32) (bool, error) {
	for len(key) > 0 {
		n := min(len(key), 32)
		b, err := r.read(pos, uint32(n))
		if err != nil {
			return false, err
		}
		if string(b) != string(key[:n]) {
			return false, nil
		}
		pos += uint32(n)
		key = key[n:]
	}
	return true, nil
}
