package cdbrules

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"syscall"

	"github.com/ucspi-go/ucspi/cdbrules/cdb"
)

// FileError is a failure to read the rules or to write the cdb, named as 0.88
// names it: Op is "read" (the input), "create" or "write" (the temporary
// file), or "move" (renaming it to the cdb, To).
type FileError struct {
	Op   string
	Path string
	To   string
	Err  error
}

func (e *FileError) Error() string { return e.Op + " " + e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// Compile reads rules from in and writes them to the cdb at path as 0.88's
// tcprules does: into tmp (created or truncated, mode 0644 less the umask), then
// fsync, close, and rename over path, so a reader sees the old rules or the new,
// never part of either. A line that cannot be parsed stops it with a *LineError
// and leaves path alone (and tmp behind, as 0.88 does); a file problem is a
// *FileError.
func Compile(in io.Reader, path, tmp string) error {
	f, err := os.OpenFile(tmp, os.O_WRONLY|syscall.O_NONBLOCK|os.O_TRUNC|os.O_CREATE, 0644)
	if err != nil {
		return &FileError{Op: "create", Path: tmp, Err: err}
	}
	err = compile(in, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var le *LineError
		var fe *FileError
		if errors.As(err, &le) || errors.As(err, &fe) {
			return err
		}
		return &FileError{Op: "write", Path: tmp, Err: err}
	}
	// syscall.Rename, not os.Rename, which refuses a directory as the target
	// itself with its own error where rename(2) says why.
	if err := syscall.Rename(tmp, path); err != nil {
		return &FileError{Op: "move", Path: tmp, To: path, Err: err}
	}
	return nil
}

func compile(in io.Reader, f io.WriteSeeker) error {
	w, err := cdb.NewWriter(f)
	if err != nil {
		return err
	}
	var value []byte
	key := make([]byte, 0, 64)
	add := func(k []byte) error { return w.Add(k, value) }
	err = eachLine(in, func(n int, line []byte) error {
		var addr []byte
		var ok bool
		addr, value, ok, err = parseLine(line, value[:0])
		if err != nil {
			return &LineError{Number: n, Text: bytes.Clone(trim(line))}
		}
		if !ok {
			return nil
		}
		switch err := keys(addr, key, add); {
		case errors.Is(err, errUnparsable):
			return &LineError{Number: n, Text: bytes.Clone(trim(line))}
		case errors.Is(err, errAmbiguous6):
			return &LineError{Number: n, Text: bytes.Clone(trim(line)), Err: err}
		default:
			return err
		}
	})
	if err != nil {
		return err
	}
	return w.Finish()
}

// eachLine calls fn with every line of in, its newline included when it has
// one, numbered from 1. A failure to read is a *FileError.
func eachLine(in io.Reader, fn func(n int, line []byte) error) error {
	r := bufio.NewReaderSize(in, 64<<10)
	var long []byte
	for n := 1; ; {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long, line...)
			continue
		}
		if long != nil {
			line = append(long, line...)
			long = nil
		}
		if len(line) > 0 {
			if ferr := fn(n, line); ferr != nil {
				return ferr
			}
			n++
		}
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return &FileError{Op: "read", Path: "input", Err: err}
		}
	}
}

// trim drops the newline and the trailing blanks, as 0.88 does before it
// quotes a line.
func trim(x []byte) []byte {
	for len(x) > 0 && (x[len(x)-1] == '\n' || x[len(x)-1] == ' ' || x[len(x)-1] == '\t') {
		x = x[:len(x)-1]
	}
	return x
}
