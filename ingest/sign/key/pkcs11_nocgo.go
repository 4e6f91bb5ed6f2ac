//go:build !cgo

package key

import "errors"

// openPKCS11 without cgo: a PKCS #11 library is C, loaded through cgo.
func openPKCS11(PKCS11, string) (*Key, error) {
	return nil, &Error{KindKey, errors.New("this sohoa was built without cgo: PKCS #11 tokens need a build with CGO_ENABLED=1")}
}
