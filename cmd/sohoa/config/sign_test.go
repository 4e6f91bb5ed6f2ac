package config

import (
	"strings"
	"testing"
)

// TestSignContractKeys: the sign: section of issue 21, as checks write it.
func TestSignContractKeys(t *testing.T) {
	c, err := Parse([]byte(`
sign:
  enabled: true
  signer_name: "Nguyễn Văn An"
  key: pkcs11
  certificate: /etc/sohoa/signer.pem
  pkcs11:
    module: /usr/lib/x86_64-linux-gnu/libvnpt-ca.so
    token_label: "VNPT-CA"
    key_label: "signer"
    pin_file: /run/credentials/sohoa.service/sign-pin
  pkcs12:
    file: /etc/sohoa/signer.p12
    password_file: /run/credentials/sohoa.service/sign-password
  tsa_url: "http://tsa.example.vn/tsa"
`))
	if err != nil {
		t.Fatal(err)
	}
	k := c.Sign.KeyConfig()
	if !c.Sign.Enabled || c.Sign.SignerName != "Nguyễn Văn An" || k.Kind != "pkcs11" || k.Certificate != "/etc/sohoa/signer.pem" ||
		k.PKCS11.Module != "/usr/lib/x86_64-linux-gnu/libvnpt-ca.so" || k.PKCS11.TokenLabel != "VNPT-CA" || k.PKCS11.KeyLabel != "signer" ||
		k.PKCS11.PINFile != "/run/credentials/sohoa.service/sign-pin" || k.PKCS12.File != "/etc/sohoa/signer.p12" ||
		k.PKCS12.PasswordFile != "/run/credentials/sohoa.service/sign-password" || c.Sign.TSAURL != "http://tsa.example.vn/tsa" {
		t.Errorf("decoded %+v", c.Sign)
	}

	// Off by default, with the documented defaults.
	d := Default().Sign
	if d.Enabled || d.Key != "pkcs11" || d.PKCS11.Module != "/usr/lib/softhsm/libsofthsm2.so" || d.PKCS11.TokenLabel != "sohoa" ||
		d.PKCS11.PINFile != "/run/credentials/sohoa.service/sign-pin" || d.PKCS12.PasswordFile != "/run/credentials/sohoa.service/sign-password" {
		t.Errorf("defaults %+v", d)
	}
}

func TestSignErrorsNameKeyAndLine(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"sign:\n  enabled: true\n  key: usb\n", "line 3: sign.key:"},
		{"sign:\n  enabled: true\n  key: pkcs12\n  pkcs12:\n    password_file: \"\"\n", "line 5: sign.pkcs12.password_file:"},
		{"sign:\n  enabled: true\n  pkcs11:\n    token_label: \"\"\n", "line 4: sign.pkcs11.token_label:"},
		{"sign:\n  enabled: true\n  tsa_url: tsa.example.vn\n", "line 3: sign.tsa_url:"},
		{"sign:\n  enabled: true\n  pin: \"1234\"\n", "unknown key pin"},
	} {
		_, err := Parse([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.yaml, err, tt.want)
		}
	}
	// Off, nothing of it is checked: a ward without a certificate.
	if _, err := Parse([]byte("sign:\n  key: usb\n")); err != nil {
		t.Errorf("disabled signing checked: %v", err)
	}
}
