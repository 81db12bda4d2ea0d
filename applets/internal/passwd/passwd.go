// Package passwd finds user and group ids by name in /etc/passwd and
// /etc/group, as getpwnam and getgrnam do on a system whose name service reads
// files. It needs no cgo: ucspi is a static binary, which cannot load the C
// library's name service modules, and tcpserver's -u and -g take names as
// tcpsvd's do.
package passwd

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// The files read; tests point them elsewhere.
var (
	UserFile  = "/etc/passwd"
	GroupFile = "/etc/group"
)

// ErrNotFound means the file has no entry for the name (or there is no file,
// as in a FROM scratch image).
var ErrNotFound = errors.New("not found")

// UserID is the user id of the user called name.
func UserID(name string) (uint32, error) { return lookup(UserFile, name) }

// GroupID is the group id of the group called name.
func GroupID(name string) (uint32, error) { return lookup(GroupFile, name) }

// lookup finds name in file, where each line is name:password:id:..., as in
// both /etc/passwd and /etc/group; the first line for a name counts, as with
// the C library.
func lookup(file, name string) (uint32, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		// A group's member list makes lines of any length: read them whole.
		line, err := r.ReadString('\n')
		if id, ok := Entry(strings.TrimSuffix(line, "\n"), name); ok {
			return id, nil
		}
		if err == io.EOF {
			return 0, ErrNotFound
		}
		if err != nil {
			return 0, err
		}
	}
}

// Entry reads one line of /etc/passwd or /etc/group: the id it gives name, if
// it is name's line and its id is a decimal number that is a valid id (below
// 2^32-1, which the system calls take as "no id"). Names as NIS compat lines
// write them (+name, -name) are not names, and neither is "".
func Entry(line, name string) (uint32, bool) {
	if name == "" || strings.ContainsAny(name[:1], "+-") {
		return 0, false
	}
	fields := strings.SplitN(line, ":", 4)
	if len(fields) < 3 || fields[0] != name || strings.Trim(fields[2], "0123456789") != "" {
		return 0, false
	}
	id, err := strconv.ParseUint(fields[2], 10, 32)
	if err != nil || id == 1<<32-1 {
		return 0, false
	}
	return uint32(id), true
}
