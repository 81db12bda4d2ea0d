// Package scan reads numbers as djb's scan_ulong does. It is a leaf: every part
// of ucspi may use it, cdbrules included, and it uses nothing of ours.
package scan

// Ulong is djb's scan_ulong: the value of the leading decimal digits of s and
// how many there were. Like the C, it wraps around on overflow, so callers that
// must refuse large values check the digits' count or the value themselves.
func Ulong(s string) (uint64, int) {
	var n uint64
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + uint64(s[i]-'0')
	}
	return n, i
}
