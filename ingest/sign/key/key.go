// Package key opens the digitizer's signing key: on a USB token or smart
// card through its PKCS #11 library, or in a PKCS #12 (.p12) file. Its
// Source keeps the key open between signatures, reopens it after a failure
// (a token pulled out and plugged in again), and never offers a token a PIN
// it refused before: it waits for the PIN file to change, so that retries
// cannot lock the token.
//
// Secrets (PIN, password) are read from files, such as those systemd's
// LoadCredential= provides, each time the key is opened; they appear in no
// error.
package key

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// Failure kinds, a closed set used as metric label values.
const (
	KindToken = "token" // the token or its library is absent, unplugged or not answering
	KindPIN   = "pin"   // the PIN or password was refused; not offered again until its file changes
	KindKey   = "key"   // no usable key or certificate: the configuration or the token's content
)

// Kinds lists every failure kind, for metrics to create at zero.
var Kinds = []string{KindToken, KindPIN, KindKey}

// Error is a failure to get the key, with its kind (ingest/sign uses it
// for a timestamp authority that fails too: a failure that holds uploads).
type Error struct {
	Kind string
	Err  error
}

func (e *Error) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// KindOf is err's kind, KindToken when it does not say.
func KindOf(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return KindToken
}

// Config says where the key is. Kind is "pkcs11" or "pkcs12".
type Config struct {
	Kind string
	// Certificate is a PEM file with the signer's certificate and the CAs'
	// above it; "": the certificates on the token or in the .p12 file.
	Certificate string
	PKCS11      PKCS11
	PKCS12      PKCS12
}

// PKCS11 is a key on a token.
type PKCS11 struct {
	Module     string // the token's PKCS #11 library
	TokenLabel string
	KeyLabel   string // "": the token's only private key
	PINFile    string
}

// PKCS12 is a key in a .p12 file.
type PKCS12 struct {
	File         string
	PasswordFile string
}

// Key is an open key with its certificate chain (the signer's first).
type Key struct {
	Signer crypto.Signer
	Chain  []*x509.Certificate
	close  func() // releases the token's session; errors are unactionable
}

// Source opens the configured key when asked and keeps it. It is safe for
// concurrent use.
type Source struct {
	cfg Config

	mu      sync.Mutex
	key     *Key
	refused [sha256.Size]byte // the digest of a secret file the key refused
	hasRef  bool
}

// NewSource returns a Source for cfg; nothing is opened yet.
func NewSource(cfg Config) *Source { return &Source{cfg: cfg} }

// Get returns the open key, opening it first if needed. Its error is an
// *Error.
func (s *Source) Get() (*Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	secretFile := s.cfg.PKCS11.PINFile
	if s.cfg.Kind == "pkcs12" {
		secretFile = s.cfg.PKCS12.PasswordFile
	}
	secret, err := readSecret(secretFile)
	if err != nil {
		return nil, &Error{KindKey, err}
	}
	sum := sha256.Sum256([]byte(secret))
	if s.hasRef && sum == s.refused {
		return nil, &Error{KindPIN, fmt.Errorf("the secret in %s was refused before: not offered again until the file changes", secretFile)}
	}
	var k *Key
	switch s.cfg.Kind {
	case "pkcs11":
		k, err = openPKCS11(s.cfg.PKCS11, secret)
	case "pkcs12":
		k, err = openPKCS12(s.cfg.PKCS12.File, secret)
	default:
		err = &Error{KindKey, fmt.Errorf("key kind %q is not one of pkcs11, pkcs12", s.cfg.Kind)}
	}
	if err == nil && s.cfg.Certificate != "" {
		err = withChainFile(k, s.cfg.Certificate)
	}
	if err == nil {
		err = checkChain(k)
	}
	if err != nil {
		if k != nil {
			k.close()
		}
		if KindOf(err) == KindPIN {
			s.refused, s.hasRef = sum, true
		}
		return nil, err
	}
	s.hasRef = false
	s.key = k
	return k, nil
}

// Reset closes the key after a failure to sign with it, so that the next
// Get opens it again (the token may have been unplugged and plugged back).
func (s *Source) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil {
		s.key.close()
		s.key = nil
	}
}

// Close closes the key.
func (s *Source) Close() error {
	s.Reset()
	return nil
}

// readSecret reads a PIN or password file: its content without the
// trailing line break.
func readSecret(path string) (string, error) {
	if path == "" {
		return "", errors.New("no PIN or password file configured")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read the secret file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("read the secret file %s: %w", path, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// withChainFile replaces k's chain by the certificates of a PEM file: the
// one whose public key is k's first, the others after it in file order.
func withChainFile(k *Key, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return &Error{KindKey, fmt.Errorf("certificate file: %w", err)}
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return &Error{KindKey, fmt.Errorf("certificate file %s: %w", path, err)}
		}
		certs = append(certs, c)
	}
	for i, c := range certs {
		if samePublic(c.PublicKey, k.Signer.Public()) {
			k.Chain = append([]*x509.Certificate{c}, append(certs[:i:i], certs[i+1:]...)...)
			return nil
		}
	}
	return &Error{KindKey, fmt.Errorf("certificate file %s: no certificate of the key among its %d", path, len(certs))}
}

// checkChain makes sure the key has a certificate that is its own.
func checkChain(k *Key) error {
	if len(k.Chain) == 0 {
		return &Error{KindKey, errors.New("no certificate for the key: set sign.certificate")}
	}
	if !samePublic(k.Chain[0].PublicKey, k.Signer.Public()) {
		return &Error{KindKey, fmt.Errorf("the certificate of %q is not the key's", k.Chain[0].Subject.CommonName)}
	}
	return nil
}

func samePublic(a, b crypto.PublicKey) bool {
	x, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && x.Equal(b)
}

// sortChain puts the certificate of pub first.
func sortChain(certs []*x509.Certificate, pub crypto.PublicKey) []*x509.Certificate {
	var first, rest []*x509.Certificate
	for _, c := range certs {
		if first == nil && samePublic(c.PublicKey, pub) {
			first = []*x509.Certificate{c}
		} else {
			rest = append(rest, c)
		}
	}
	return append(first, rest...)
}

// pemBlocks splits PEM data into its blocks of one type.
func pemBlocks(blocks []*pem.Block, typ string) [][]byte {
	var out [][]byte
	for _, b := range blocks {
		if b.Type == typ {
			out = append(out, b.Bytes)
		}
	}
	return out
}
