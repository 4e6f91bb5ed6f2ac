package config

import (
	"net/url"

	"github.com/sohoa/sohoa/ingest/sign/key"
)

// Sign is the sign: section: the digitizer's digital signature and stamp
// on each uploaded PDF (ingest/sign), as Circular 01/2023 asks. Off by
// default: a ward without a certificate uploads as before.
type Sign struct {
	Enabled bool `yaml:"enabled"`
	// SignerName is the name in the stamp; "": the certificate's CN.
	SignerName string `yaml:"signer_name"`
	Key        string `yaml:"key"` // pkcs11 | pkcs12
	// Certificate is a PEM file with the signer's certificate and the CAs'
	// above it; "": the certificate on the token or in the .p12 file.
	Certificate string     `yaml:"certificate"`
	PKCS11      SignPKCS11 `yaml:"pkcs11"`
	PKCS12      SignPKCS12 `yaml:"pkcs12"`
	// TSAURL is an RFC 3161 timestamp authority; "": no timestamp (B-B).
	TSAURL string `yaml:"tsa_url"`
}

// SignPKCS11 is a key on a USB token or smart card.
type SignPKCS11 struct {
	Module     string `yaml:"module"`      // the token's PKCS #11 library
	TokenLabel string `yaml:"token_label"` //
	KeyLabel   string `yaml:"key_label"`   // "": the token's only private key
	PINFile    string `yaml:"pin_file"`    // a file holding the PIN (systemd LoadCredential=)
}

// SignPKCS12 is a key in a .p12 file.
type SignPKCS12 struct {
	File         string `yaml:"file"`
	PasswordFile string `yaml:"password_file"` // a file holding the password (systemd LoadCredential=)
}

func defaultSign() Sign {
	return Sign{
		Key: "pkcs11",
		PKCS11: SignPKCS11{
			Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "sohoa",
			PINFile: "/run/credentials/sohoa.service/sign-pin",
		},
		PKCS12: SignPKCS12{File: "/etc/sohoa/signer.p12", PasswordFile: "/run/credentials/sohoa.service/sign-password"},
	}
}

func (s *Sign) validate() error {
	if !s.Enabled {
		return nil
	}
	switch s.Key {
	case "pkcs11":
		switch {
		case s.PKCS11.Module == "":
			return bad("sign.pkcs11.module", "must name the token's PKCS #11 library")
		case s.PKCS11.TokenLabel == "":
			return bad("sign.pkcs11.token_label", "must be set")
		case s.PKCS11.PINFile == "":
			return bad("sign.pkcs11.pin_file", "must name the file holding the PIN")
		}
	case "pkcs12":
		switch {
		case s.PKCS12.File == "":
			return bad("sign.pkcs12.file", "must be set")
		case s.PKCS12.PasswordFile == "":
			return bad("sign.pkcs12.password_file", "must name the file holding the password")
		}
	default:
		return bad("sign.key", "%q is not one of pkcs11, pkcs12", s.Key)
	}
	if s.TSAURL != "" {
		if u, err := url.Parse(s.TSAURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("sign.tsa_url", "%q is not an http or https URL", s.TSAURL)
		}
	}
	return nil
}

// KeyConfig is where the key is, for ingest/sign/key.
func (s *Sign) KeyConfig() key.Config {
	return key.Config{
		Kind: s.Key, Certificate: s.Certificate,
		PKCS11: key.PKCS11{Module: s.PKCS11.Module, TokenLabel: s.PKCS11.TokenLabel, KeyLabel: s.PKCS11.KeyLabel, PINFile: s.PKCS11.PINFile},
		PKCS12: key.PKCS12{File: s.PKCS12.File, PasswordFile: s.PKCS12.PasswordFile},
	}
}
