package applets

import (
	"bufio"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// Manual is an applet's man page, section by section, as Debian's pages have
// them; NAME, SYNOPSIS and the list of OPTIONS come from the record's Summary,
// Usage and Setup, so that --help, the man page and the parser cannot drift.
//
// The text is plain: paragraphs are separated by an empty line (lines within one
// are joined); a paragraph whose every line starts with two spaces is a display,
// kept as written (commands, protocol exchanges); a paragraph of one line in
// capitals is a subheading.
type Manual struct {
	Description string
	Options     string // said before the list of options, e.g. that there are none
	Environment string
	ExitStatus  string
	Examples    string
	SeeAlso     []string // "tcprules" for an applet's page, "multilog(8)" for others
}

// section is one section of a page: its paragraphs, or (OPTIONS) its options.
type section struct {
	title   string
	text    string
	options []option
}

// option is one entry of OPTIONS: "-c, --limit" and "limit", then what it does.
type option struct {
	short, long, arg, usage string
}

// page is a's manual as the list of sections that both WriteHelp and WriteMan
// render.
func (a *Applet) page() []section {
	fs, _ := a.flags()
	var opts []option
	fs.VisitAll(func(f *pflag.Flag) {
		arg, usage := pflag.UnquoteUsage(f)
		if f.NoOptDefVal != "" {
			arg = ""
		}
		if f.NoOptDefVal == "" && f.DefValue != "" && f.DefValue != "0" && !strings.Contains(usage, "default") {
			usage += " (default " + f.DefValue + ")"
		}
		opts = append(opts, option{f.Shorthand, f.Name, arg, usage})
	})
	opts = append(opts, option{long: "help", usage: "as the only argument: print this manual and exit 0"})
	var also []string
	for _, name := range a.Manual.SeeAlso {
		if !strings.Contains(name, "(") {
			name += "(1)"
		}
		also = append(also, name)
	}
	return []section{
		{title: "NAME", text: a.Name + " - " + a.Summary},
		{title: "SYNOPSIS", text: "  " + a.Usage},
		{title: "DESCRIPTION", text: a.Manual.Description},
		{title: "OPTIONS", text: a.Manual.Options, options: opts},
		{title: "ENVIRONMENT", text: a.Manual.Environment},
		{title: "EXIT STATUS", text: a.Manual.ExitStatus},
		{title: "EXAMPLES", text: a.Manual.Examples},
		{title: "SEE ALSO", text: strings.Join(also, ", ")},
	}
}

// block is one paragraph of a section's text.
type block struct {
	kind  byte // 'p' paragraph (lines joined), 'd' display, 'h' subheading
	lines []string
}

func blocks(text string) []block {
	var out []block
	for _, para := range strings.Split(strings.Trim(text, "\n"), "\n\n") {
		lines := strings.Split(strings.Trim(para, "\n"), "\n")
		if para == "" {
			continue
		}
		display := true
		for _, l := range lines {
			display = display && strings.HasPrefix(l, "  ")
		}
		switch {
		case display:
			out = append(out, block{'d', lines})
		case len(lines) == 1 && lines[0] == strings.ToUpper(lines[0]) && strings.ContainsAny(lines[0], "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
			out = append(out, block{'h', lines})
		default:
			out = append(out, block{'p', []string{strings.Join(strings.Fields(para), " ")}})
		}
	}
	return out
}

// helpWidth is the width --help wraps its paragraphs to.
const helpWidth = 79

// WriteHelp writes a's manual as plain text, what --help prints.
func (a *Applet) WriteHelp(w io.Writer) error {
	b := bufio.NewWriter(w)
	for i, sec := range a.page() {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(sec.title + "\n")
		for j, blk := range blocks(sec.text) {
			if j > 0 {
				b.WriteString("\n")
			}
			switch blk.kind {
			case 'd':
				for _, l := range blk.lines {
					b.WriteString("    " + l + "\n")
				}
			case 'h':
				b.WriteString("  " + blk.lines[0] + "\n")
			default:
				wrap(b, blk.lines[0], "    ", helpWidth)
			}
		}
		if len(sec.options) > 0 && sec.text != "" {
			b.WriteString("\n")
		}
		for _, o := range sec.options {
			b.WriteString("  " + o.term() + "\n")
			wrap(b, o.usage, "      ", helpWidth)
		}
	}
	return b.Flush()
}

// term is how an option is written in its entry: -c, --limit limit.
func (o option) term() string {
	t := "--" + o.long
	if o.short != "" {
		t = "-" + o.short + ", " + t
	}
	if o.arg != "" {
		t += " " + o.arg
	}
	return t
}

// wrap writes text as lines of at most width columns, each starting with indent
// (a longer word gets a line of its own).
func wrap(b *bufio.Writer, text, indent string, width int) {
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
}

// WriteMan writes a's manual as a man(7) page of section 1.
func (a *Applet) WriteMan(w io.Writer, version string) error {
	b := bufio.NewWriter(w)
	b.WriteString(`.TH "` + roff(strings.ToUpper(a.Name)) + `" 1 "" "ucspi ` + roff(version) + `" "ucspi-tcp compatible tools"` + "\n.nh\n")
	for _, sec := range a.page() {
		b.WriteString(".SH " + sec.title + "\n")
		switch sec.title {
		case "NAME":
			b.WriteString(roff(a.Name) + ` \- ` + roff(a.Summary) + "\n")
			continue
		case "SYNOPSIS":
			b.WriteString(".B " + roff(a.Name) + "\n" + roff(strings.TrimSpace(strings.TrimPrefix(a.Usage, a.Name))) + "\n")
			continue
		}
		for _, blk := range blocks(sec.text) {
			switch blk.kind {
			case 'd':
				b.WriteString(".PP\n.RS 4\n.nf\n")
				for _, l := range blk.lines {
					b.WriteString(roffLine(strings.TrimPrefix(l, "  ")) + "\n")
				}
				b.WriteString(".fi\n.RE\n")
			case 'h':
				b.WriteString(".SS " + roff(blk.lines[0]) + "\n")
			default:
				b.WriteString(".PP\n" + roffLine(blk.lines[0]) + "\n")
			}
		}
		for _, o := range sec.options {
			term := `\fB\-\-` + roff(o.long) + `\fR`
			if o.short != "" {
				term = `\fB\-` + roff(o.short) + `\fR, ` + term
			}
			if o.arg != "" {
				term += ` \fI` + roff(o.arg) + `\fR`
			}
			b.WriteString(".TP\n" + term + "\n" + roffLine(o.usage) + "\n")
		}
	}
	return b.Flush()
}

// roff escapes text for a man page: a backslash prints as itself, and a hyphen
// as a minus sign, so that options copied from the page work.
func roff(s string) string {
	return strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
}

// roffLine is roff for a whole input line, which must not start with a control
// character.
func roffLine(s string) string {
	s = roff(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
