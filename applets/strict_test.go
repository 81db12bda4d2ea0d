package applets

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/ucspi-go/ucspi/applets/internal/passwd"
	"github.com/ucspi-go/ucspi/internal/reftest"
	"github.com/ucspi-go/ucspi/ucspi/exit"
)

// Values 0.88 silently misread are usage errors (issue 15, §2 and §3): each row
// runs ours and, where it is installed, Debian's, and shows both what we print
// and that 0.88 did something else. The command lines are built so that 0.88
// stops at once (an unknown port, an address with too few numbers), never
// starting a server.
func TestStricterThan088(t *testing.T) {
	usage := func(name string) string { return name + ": usage: " + Lookup(name).Usage + "\n" }
	for _, c := range []struct {
		name string
		args []string
		env  []string
		want string // our stderr, before the usage line
	}{
		{"tcpserver", []string{"-u", "nosuchuser", "0", "nonexistentport", "true"}, nil, "tcpserver: option -u: no such user: nosuchuser\n"},
		{"tcpserver", []string{"-g", "nosuchgroup", "0", "nonexistentport", "true"}, nil, "tcpserver: option -g: no such group: nosuchgroup\n"},
		{"tcpserver", []string{"-u", "4294967295", "0", "nonexistentport", "true"}, nil, "tcpserver: option -u: out of range (0 to 4294967294): 4294967295\n"},
		{"tcpserver", []string{"-g", "4294967296", "0", "nonexistentport", "true"}, nil, "tcpserver: option -g: out of range (0 to 4294967294): 4294967296\n"},
		{"tcpserver", []string{"-U", "0", "nonexistentport", "true"}, []string{"UID=nosuchuser"}, "tcpserver: option -U: $UID: no such user: nosuchuser\n"},
		{"tcpserver", []string{"-U", "0", "nonexistentport", "true"}, []string{"GID=12x"}, "tcpserver: option -U: $GID: no such group: 12x\n"},
		{"tcpserver", []string{"-c", "abc", "0", "nonexistentport", "true"}, nil, "tcpserver: option -c: not a number: abc\n"},
		{"tcpserver", []string{"-c40x", "0", "nonexistentport", "true"}, nil, "tcpserver: option -c: not a number: 40x\n"},
		// An option error is printed even under -q, as 0.88 prints "illegal option".
		{"tcpserver", []string{"-q", "-c", "abc", "0", "nonexistentport", "true"}, nil, "tcpserver: option -c: not a number: abc\n"},
		{"tcpserver", []string{"-b", "", "0", "nonexistentport", "true"}, nil, "tcpserver: option -b: not a number: \n"},
		{"tcpserver", []string{"-t", "-5", "0", "nonexistentport", "true"}, nil, "tcpserver: option -t: not a number: -5\n"},
		{"tcpserver", []string{"-c", "18446744073709551616", "0", "nonexistentport", "true"}, nil, "tcpserver: option -c: out of range (0 to 18446744073709551615): 18446744073709551616\n"},
		{"tcpserver", []string{"1.2.3", "65536", "true"}, nil, "tcpserver: port out of range (0 to 65535): 65536\n"},
		{"tcpserver", []string{"--limt", "0", "nonexistentport", "true"}, nil, ""},
		{"tcpclient", []string{"1.2.3", "99999", "true"}, nil, "tcpclient: port out of range (0 to 65535): 99999\n"},
		{"tcpclient", []string{"-p", "70000", "1.2.3", "1", "true"}, nil, "tcpclient: option -p: out of range (0 to 65535): 70000\n"},
		{"tcpclient", []string{"-t", "x", "1.2.3", "1", "true"}, nil, "tcpclient: option -t: not a number: x\n"},
		{"tcpclient", []string{"--nosuch", "1.2.3", "1", "true"}, nil, ""},
		{"rblsmtpd", []string{"-t", "x", "true"}, nil, "rblsmtpd: option -t: not a number: x\n"},
		{"rblsmtpd", []string{"--timeout=0x", "true"}, nil, "rblsmtpd: option --timeout: not a number: 0x\n"},
	} {
		cmd := reftest.Cmd{Args: c.args, Env: append([]string{"PATH=" + os.Getenv("PATH")}, c.env...)}
		got := reftest.Run(t, reftest.Ours(t, c.name), cmd)
		if want := c.want + usage(c.name); string(got.Stderr) != want || got.Code != 100 || len(got.Stdout) != 0 {
			t.Errorf("%s %q: exit %d, stdout %q, stderr %q; want 100 and %q", c.name, c.args, got.Code, got.Stdout, got.Stderr, want)
		}
		if ref := filepath.Join(reftest.Dir(), c.name); exists(ref) {
			if old := reftest.Run(t, ref, cmd); old.Code == 100 {
				t.Errorf("%s %q: 0.88 also exits 100 (%q): not a difference", c.name, c.args, old.Stderr)
			}
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestSameAs088 holds the command lines where the stricter reading changes
// nothing: an unknown long option that 0.88 also answers with its usage line,
// and --help among other arguments, which 0.88 takes for "--".
func TestSameAs088(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"tcpserver", []string{"--version"}},
		{"tcpserver", []string{"--limt", "5"}},
		{"tcpserver", []string{"--help", "0", "nonexistentport", "true"}},
		{"tcpserver", []string{"-v", "--help", "-x"}}, // -x is an operand, not an option lacking its argument
		{"tcpclient", []string{"--version"}},
		{"tcpclient", []string{"--help", "1.2.3", "1", "true"}},
		{"rblsmtpd", []string{"--version"}},
		{"tcpserver", []string{"-q", "-z", "0", "nonexistentport", "true"}}, // -q does not hide an option error
		{"tcpserver", []string{"-q", "0", "nonexistentport", "true"}},       // but every later message
		{"tcpclient", []string{"-q", "1.2.3"}},
		{"tcpserver", []string{"-c", "040", "-b", "0", "-t", "00026", "0", "nonexistentport", "true"}},
		{"tcpserver", []string{"-u", "0", "-g", "4294967294", "0", "nonexistentport", "true"}},
	} {
		reftest.Compare(t, c.name, reftest.Cmd{Args: c.args})
	}
}

// TestIDNames reads -u and -g names from the files the C library reads.
func TestIDNames(t *testing.T) {
	dir := t.TempDir()
	users, groups := filepath.Join(dir, "passwd"), filepath.Join(dir, "group")
	os.WriteFile(users, []byte("qmaild:x:7791:2108::/var/qmail:/bin/false\n1234:x:55:55::/:\n"), 0o644)
	os.WriteFile(groups, []byte("nofiles:x:2108:\n"), 0o644)
	defer func(u, g string) { passwd.UserFile, passwd.GroupFile = u, g }(passwd.UserFile, passwd.GroupFile)
	passwd.UserFile, passwd.GroupFile = users, groups

	var uid, gid uint64
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.VarP(userID{&uid}, "uid", "u", "")
	fs.VarP(groupID{&gid}, "gid", "g", "")
	fs.VarPF(envIDs{&uid, &gid}, "env-ids", "U", "").NoOptDefVal = "true"
	for _, c := range []struct {
		args     string
		env      string
		uid, gid uint64
		err      string
	}{
		{args: "-u qmaild -g nofiles", uid: 7791, gid: 2108},
		{args: "-uqmaild -gnofiles", uid: 7791, gid: 2108},
		{args: "--uid=qmaild --gid nofiles", uid: 7791, gid: 2108},
		{args: "-u 1234", uid: 1234}, // a number is a number, as 0.88 read it
		{args: "-u 0 -g 0"},
		{args: "-U", env: "UID=qmaild GID=2108", uid: 7791, gid: 2108},
		{args: "-U -u 5", env: "UID=qmaild", uid: 5},
		{args: "-u nofiles", err: "option -u: no such user: nofiles"},
		{args: "-g qmaild", err: "option -g: no such group: qmaild"},
		{args: "-U", env: "UID=", err: "option -U: $UID: no such user: "},
	} {
		uid, gid = 0, 0
		for _, kv := range strings.Fields(c.env) {
			name, value, _ := strings.Cut(kv, "=")
			t.Setenv(name, value)
		}
		_, err := getopt(fs, strings.Fields(c.args))
		if c.err != "" {
			if e := exit.As(err); e == nil || e.Text != c.err || e.Kind != exit.UsageLine || e.Code != 100 {
				t.Errorf("%s (%s): %v; want %q", c.args, c.env, err, c.err)
			}
		} else if err != nil || uid != c.uid || gid != c.gid {
			t.Errorf("%s (%s): uid %d gid %d %v; want %d %d", c.args, c.env, uid, gid, err, c.uid, c.gid)
		}
		os.Unsetenv("UID")
		os.Unsetenv("GID")
	}
	// A file that cannot be read says why.
	passwd.UserFile = dir
	_, err := getopt(fs, []string{"-u", "qmaild"})
	if e := exit.As(err); e == nil || !strings.HasPrefix(e.Text, "option -u: unable to look up user qmaild: ") {
		t.Errorf("unreadable passwd: %v", err)
	}
}

// FuzzGetopt: whatever the command line, getopt returns a tail of it as the
// operands, or a usage error; it never panics. Seeds in testdata/fuzz/FuzzGetopt.
func FuzzGetopt(f *testing.F) {
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		serverLike(fs)
		var uid uint64
		fs.VarP(userID{&uid}, "uid", "u", "")
		operands, err := getopt(fs, args)
		if err != nil {
			if e := exit.As(err); e == nil || e.Kind != exit.UsageLine || e.Code != 100 {
				t.Fatalf("getopt(%q): %v", args, err)
			}
			return
		}
		if len(operands) > len(args) || !equal(operands, args[len(args)-len(operands):]) {
			t.Fatalf("getopt(%q) = %q: not a tail", args, operands)
		}
		if uid > maxID {
			t.Fatalf("getopt(%q): uid %d", args, uid)
		}
	})
}

func equal(a, b []string) bool {
	return bytes.Equal([]byte(strings.Join(a, "\x00")), []byte(strings.Join(b, "\x00"))) && len(a) == len(b)
}
