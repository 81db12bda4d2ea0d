// Package cdbrules is the rules language of tcprules, tcprulescheck and
// tcpserver: it parses rules lines, compiles them into a cdb file byte for byte
// as ucspi-tcp 0.88's tcprules does, and looks a connection up in 0.88's order.
package cdbrules
