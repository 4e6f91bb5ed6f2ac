package key

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"golang.org/x/crypto/pkcs12"
)

// openPKCS12 reads the key and certificates of a .p12 file. The format's
// legacy encryption (3DES, RC2; what Windows and the CAs' tools write) is
// read; a file OpenSSL 3 wrote with its AES default is not, and says so.
func openPKCS12(path, password string) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{KindKey, fmt.Errorf("pkcs12 file: %w", err)}
	}
	blocks, err := pkcs12.ToPEM(data, password)
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return nil, &Error{KindPIN, fmt.Errorf("%s: the password was refused", path)}
	case err != nil:
		var nsErr pkcs12.NotImplementedError
		if errors.As(err, &nsErr) {
			err = fmt.Errorf("%w (re-export it with legacy encryption: openssl pkcs12 -export -legacy, or -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1)", err)
		}
		return nil, &Error{KindKey, fmt.Errorf("%s: %w", path, err)}
	}
	var signer crypto.Signer
	for _, typ := range []string{"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"} {
		for _, der := range pemBlocks(blocks, typ) {
			if signer != nil {
				return nil, &Error{KindKey, fmt.Errorf("%s holds more than one private key", path)}
			}
			if signer, err = parseKey(der); err != nil {
				return nil, &Error{KindKey, fmt.Errorf("%s: %w", path, err)}
			}
		}
	}
	if signer == nil {
		return nil, &Error{KindKey, fmt.Errorf("%s holds no private key", path)}
	}
	var certs []*x509.Certificate
	for _, der := range pemBlocks(blocks, "CERTIFICATE") {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, &Error{KindKey, fmt.Errorf("%s: %w", path, err)}
		}
		certs = append(certs, c)
	}
	return &Key{Signer: signer, Chain: sortChain(certs, signer.Public()), close: func() {}}, nil
}

func parseKey(der []byte) (crypto.Signer, error) {
	var k any
	var err error
	if k, err = x509.ParsePKCS8PrivateKey(der); err != nil {
		if k, err = x509.ParsePKCS1PrivateKey(der); err != nil {
			if k, err = x509.ParseECPrivateKey(der); err != nil {
				return nil, errors.New("a private key of unknown form")
			}
		}
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T key cannot sign", k)
	}
	return s, nil
}
