package sign

import (
	"bytes"
	"context"
	"crypto/rand"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// ErrTimestamp wraps a failure to get a timestamp from the TSA (down,
// refusing, or answering with a token that does not match the request):
// the signature waits for it, as for a key that is unavailable.
var ErrTimestamp = errors.New("timestamp authority")

var oidTSTInfo = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}

// TSA is an RFC 3161 timestamp authority reached over HTTP.
type TSA struct {
	URL string
	// Client sends the requests; nil: one with a 30 s timeout.
	Client *http.Client
}

// maxTSAReply caps the TSA's answer read.
const maxTSAReply = 256 << 10

// Timestamp asks the TSA for a timestamp token over a SHA-256 digest and
// returns the token (a CMS ContentInfo), after checking that its
// TSTInfo is for that digest and the request's nonce. It fits
// Signer.Timestamp.
func (t *TSA) Timestamp(ctx context.Context, digest []byte) ([]byte, error) {
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // TimeStampReq
		b.AddASN1Int64(1)
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // MessageImprint
			algorithm(b, oidSHA256, true)
			b.AddASN1OctetString(digest)
		})
		b.AddASN1BigInt(nonce)
		b.AddASN1Boolean(true) // certReq: the TSA's certificate in the token
	})
	req, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	client := t.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTimestamp, err)
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTimestamp, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTSAReply))
	if err != nil {
		return nil, fmt.Errorf("%w: read the answer: %w", ErrTimestamp, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP %d", ErrTimestamp, resp.StatusCode)
	}
	token, err := parseTSAReply(body, digest, nonce)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTimestamp, err)
	}
	return token, nil
}

// parseTSAReply checks a TimeStampResp and returns its token.
func parseTSAReply(body, digest []byte, nonce *big.Int) ([]byte, error) {
	bad := errors.New("malformed timestamp reply")
	in := cryptobyte.String(body)
	var resp, status cryptobyte.String
	var code int64
	if !in.ReadASN1(&resp, asn1.SEQUENCE) || !resp.ReadASN1(&status, asn1.SEQUENCE) || !status.ReadASN1Integer(&code) {
		return nil, bad
	}
	if code != 0 && code != 1 { // granted, grantedWithMods
		return nil, fmt.Errorf("the TSA refused the request (PKIStatus %d)", code)
	}
	var token cryptobyte.String
	if !resp.ReadASN1Element(&token, asn1.SEQUENCE) {
		return nil, errors.New("the reply holds no token")
	}
	// ContentInfo → SignedData → encapContentInfo → TSTInfo.
	var ci, sd, eci, octets cryptobyte.String
	var oid encasn1.ObjectIdentifier
	t := token
	if !t.ReadASN1(&ci, asn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidSignedData) ||
		!ci.ReadASN1(&sd, asn1.Tag(0).Constructed().ContextSpecific()) || !sd.ReadASN1(&sd, asn1.SEQUENCE) ||
		!sd.SkipASN1(asn1.INTEGER) || !sd.SkipASN1(asn1.SET) || !sd.ReadASN1(&eci, asn1.SEQUENCE) ||
		!eci.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidTSTInfo) ||
		!eci.ReadASN1(&octets, asn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, bad
	}
	var tst []byte
	if !octets.ReadASN1Bytes(&tst, asn1.OCTET_STRING) {
		return nil, bad
	}
	info := cryptobyte.String(tst)
	var imprint, hashed cryptobyte.String
	var got []byte
	if !info.ReadASN1(&info, asn1.SEQUENCE) || !info.SkipASN1(asn1.INTEGER) || !info.SkipASN1(asn1.OBJECT_IDENTIFIER) ||
		!info.ReadASN1(&imprint, asn1.SEQUENCE) || !imprint.SkipASN1(asn1.SEQUENCE) || !imprint.ReadASN1(&hashed, asn1.OCTET_STRING) {
		return nil, bad
	}
	got = hashed
	if !bytes.Equal(got, digest) {
		return nil, errors.New("the token is for another digest")
	}
	// serialNumber, genTime, then optional accuracy, ordering, nonce.
	if !info.SkipASN1(asn1.INTEGER) || !info.SkipASN1(asn1.GeneralizedTime) {
		return nil, bad
	}
	info.SkipOptionalASN1(asn1.SEQUENCE)
	info.SkipOptionalASN1(asn1.BOOLEAN)
	n := new(big.Int)
	if !info.PeekASN1Tag(asn1.INTEGER) || !info.ReadASN1Integer(n) || n.Cmp(nonce) != 0 {
		return nil, errors.New("the token does not carry the request's nonce")
	}
	return token, nil
}
