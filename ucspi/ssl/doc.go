// Package ssl is the TLS half of sslserver and sslclient, on Go's crypto/tls,
// in ucspi-ssl's terms: certificate and key files as ucspi-ssl reads them
// (CERTFILE, CERTCHAINFILE, KEYFILE, a legacy-encrypted key), their renewal
// without a restart, OpenSSL's cipher and protocol names (CIPHERS,
// SSL_CIPHER), the mod_ssl variables of -s, the verification of a peer's
// certificate with the reasons ucspi-ssl's users read in logs, a net.Conn over
// an accepted descriptor, the relay between a TLS connection and a program's
// socket, and UCSPI-TLS's control descriptor. It knows nothing of the accept
// loop or the rules: package ucspi puts these pieces in a connection's story.
package ssl
