package sign

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

var byteRange = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// Verify checks the last signature of a PDF signed by this package: its
// byte range covers the whole file but the signature, the message digest
// is that of the range, and the signer's certificate (in the signature)
// verifies the signature value. It returns the signer's certificate. It
// does not judge whether the certificate is trusted.
func Verify(pdf []byte) (*x509.Certificate, error) {
	ms := byteRange.FindAllSubmatchIndex(pdf, -1)
	if len(ms) == 0 {
		return nil, errors.New("no signature")
	}
	m := ms[len(ms)-1]
	var r [4]int
	for i := range r {
		v, err := strconv.Atoi(string(pdf[m[2+2*i]:m[3+2*i]]))
		if err != nil {
			return nil, err
		}
		r[i] = v
	}
	if r[0] != 0 || r[1] >= r[2] || r[2]+r[3] != len(pdf) || pdf[r[1]] != '<' || pdf[r[2]-1] != '>' {
		return nil, fmt.Errorf("byte range %v does not cover the file of %d bytes but the signature", r, len(pdf))
	}
	der, err := hex.DecodeString(string(pdf[r[1]+1 : r[2]-1])) // the CMS, then zeros
	if err != nil {
		return nil, fmt.Errorf("signature contents: %w", err)
	}
	h := sha256.New()
	h.Write(pdf[:r[1]])
	h.Write(pdf[r[2]:])
	return verifyCMS(der, h.Sum(nil))
}

// verifyCMS checks a detached SignedData of one signer over digest.
func verifyCMS(der, digest []byte) (*x509.Certificate, error) {
	bad := errors.New("malformed CMS signature")
	in := cryptobyte.String(der) // the zeros after it are left unread
	var ci, sd, certs, signers, si cryptobyte.String
	var oid encasn1.ObjectIdentifier
	if !in.ReadASN1(&ci, asn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidSignedData) ||
		!ci.ReadASN1(&sd, asn1.Tag(0).Constructed().ContextSpecific()) || !sd.ReadASN1(&sd, asn1.SEQUENCE) ||
		!sd.SkipASN1(asn1.INTEGER) || !sd.SkipASN1(asn1.SET) || !sd.SkipASN1(asn1.SEQUENCE) ||
		!sd.ReadASN1(&certs, asn1.Tag(0).Constructed().ContextSpecific()) || !sd.ReadASN1(&signers, asn1.SET) ||
		!signers.ReadASN1(&si, asn1.SEQUENCE) {
		return nil, bad
	}
	var sid, attrs, sigAlg cryptobyte.String
	var sig []byte
	if !si.SkipASN1(asn1.INTEGER) || !si.ReadASN1(&sid, asn1.SEQUENCE) || !si.SkipASN1(asn1.SEQUENCE) ||
		!si.ReadASN1(&attrs, asn1.Tag(0).Constructed().ContextSpecific()) || !si.ReadASN1(&sigAlg, asn1.SEQUENCE) ||
		!si.ReadASN1Bytes(&sig, asn1.OCTET_STRING) {
		return nil, bad
	}
	var issuer cryptobyte.String
	serial := new(big.Int)
	if !sid.ReadASN1Element(&issuer, asn1.SEQUENCE) || !sid.ReadASN1Integer(serial) {
		return nil, bad
	}
	var signer *x509.Certificate
	for !certs.Empty() {
		var c cryptobyte.String
		if !certs.ReadASN1Element(&c, asn1.SEQUENCE) {
			return nil, bad
		}
		cert, err := x509.ParseCertificate(c)
		if err != nil {
			return nil, fmt.Errorf("certificate in the signature: %w", err)
		}
		if bytes.Equal(cert.RawIssuer, issuer) && cert.SerialNumber.Cmp(serial) == 0 {
			signer = cert
		}
	}
	if signer == nil {
		return nil, errors.New("the signer's certificate is not in the signature")
	}
	// The message digest among the signed attributes.
	found := false
	for a := attrs; !a.Empty(); {
		var attr, set cryptobyte.String
		var aoid encasn1.ObjectIdentifier
		if !a.ReadASN1(&attr, asn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&aoid) || !attr.ReadASN1(&set, asn1.SET) {
			return nil, bad
		}
		if aoid.Equal(oidMessageDigest) {
			var md []byte
			if !set.ReadASN1Bytes(&md, asn1.OCTET_STRING) {
				return nil, bad
			}
			if !bytes.Equal(md, digest) {
				return nil, errors.New("the document was changed after it was signed (message digest differs)")
			}
			found = true
		}
	}
	if !found {
		return nil, errors.New("no message digest among the signed attributes")
	}
	// The signature is over the attributes as a SET OF.
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrs) })
	signed, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	alg := x509.SHA256WithRSA
	if signer.PublicKeyAlgorithm == x509.ECDSA {
		alg = x509.ECDSAWithSHA256
	}
	if err := signer.CheckSignature(alg, signed, sig); err != nil {
		return nil, fmt.Errorf("the signature value does not verify with %q's certificate: %w", signer.Subject.CommonName, err)
	}
	return signer, nil
}
