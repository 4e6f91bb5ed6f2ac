package upload

import (
	"bytes"
	"net/http"
	"strings"
)

// withoutCredentials blanks in an answer the credentials its request
// carried, should the server echo them (some APIs answer an error with the
// request's headers), before the answer is logged or kept as a parked
// upload's reason: the Authorization value, its token or base64 part, a
// basic password, also with JSON's escaped slashes.
func withoutCredentials(b []byte, req *http.Request) []byte {
	if req == nil || req.Header.Get("Authorization") == "" {
		return b
	}
	h := req.Header.Get("Authorization")
	secrets := []string{h}
	if _, cred, ok := strings.Cut(h, " "); ok {
		secrets = append(secrets, cred)
	}
	if _, pass, ok := req.BasicAuth(); ok {
		secrets = append(secrets, pass)
	}
	for _, s := range secrets {
		if len(s) < 4 {
			continue // too short to find without blanking other text
		}
		for _, form := range []string{s, strings.ReplaceAll(s, "/", `\/`)} {
			b = bytes.ReplaceAll(b, []byte(form), []byte("[redacted]"))
		}
	}
	return b
}
