package cdbrules

// Decision is the outcome of a rules lookup.
type Decision struct {
	Key   string   // the rule key that matched; "" when none did (the default)
	Found bool     // a rule matched
	Deny  bool
	Env   []string // "VAR=value" from the matched rule, in rule order
}

// LookupFile opens the cdb at path, looks the connection up in 0.88's search
// order, closes it. A missing file returns an error satisfying
// errors.Is(err, fs.ErrNotExist) (tcpserver -X treats that as allow).
// ip is the remote address as text (dotted quad for IPv4, compact IPv6 text
// otherwise; an IPv4-mapped IPv6 address is looked up as IPv4); host and info
// may be "" meaning unknown (0.88 passes 0).
func LookupFile(path, ip, host, info string) (Decision, error) {
	panic("cdbrules: LookupFile not implemented yet")
}
