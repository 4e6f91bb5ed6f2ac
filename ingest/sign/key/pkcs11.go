//go:build cgo

package key

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// openPKCS11 logs into the token and finds the key (by label, or the only
// one) and, when the token holds it, its certificate.
func openPKCS11(cfg PKCS11, pin string) (*Key, error) {
	if cfg.Module == "" || cfg.TokenLabel == "" {
		return nil, &Error{KindKey, errors.New("sign.pkcs11.module and token_label must be set")}
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: cfg.Module, TokenLabel: cfg.TokenLabel, Pin: pin})
	if err != nil {
		var p11 pkcs11.Error
		if errors.As(err, &p11) {
			switch p11 {
			case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE, pkcs11.CKR_PIN_EXPIRED, pkcs11.CKR_PIN_LOCKED:
				return nil, &Error{KindPIN, fmt.Errorf("token %q refused the PIN: %w", cfg.TokenLabel, p11)}
			}
		}
		return nil, &Error{KindToken, fmt.Errorf("token %q: %w", cfg.TokenLabel, err)}
	}
	k, err := findKey(ctx, cfg)
	if err != nil {
		ctx.Close()
		return nil, err
	}
	return k, nil
}

func findKey(ctx *crypto11.Context, cfg PKCS11) (*Key, error) {
	var signer crypto11.Signer
	if cfg.KeyLabel != "" {
		s, err := ctx.FindKeyPair(nil, []byte(cfg.KeyLabel))
		if err != nil {
			return nil, &Error{KindToken, fmt.Errorf("token %q: find key %q: %w", cfg.TokenLabel, cfg.KeyLabel, err)}
		}
		if s == nil {
			return nil, &Error{KindKey, fmt.Errorf("token %q has no key labelled %q", cfg.TokenLabel, cfg.KeyLabel)}
		}
		signer = s
	} else {
		all, err := ctx.FindAllKeyPairs()
		if err != nil {
			return nil, &Error{KindToken, fmt.Errorf("token %q: list keys: %w", cfg.TokenLabel, err)}
		}
		if len(all) != 1 {
			return nil, &Error{KindKey, fmt.Errorf("token %q holds %d private keys: set sign.pkcs11.key_label", cfg.TokenLabel, len(all))}
		}
		signer = all[0]
	}
	var certs []*x509.Certificate
	pairs, err := ctx.FindAllPairedCertificates()
	if err != nil {
		return nil, &Error{KindToken, fmt.Errorf("token %q: list certificates: %w", cfg.TokenLabel, err)}
	}
	for _, p := range pairs {
		if p.Leaf != nil {
			certs = append(certs, p.Leaf)
		}
	}
	return &Key{Signer: signer, Chain: sortChain(certs, signer.Public()), close: func() { ctx.Close() }}, nil
}
