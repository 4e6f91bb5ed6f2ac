package ingest

import (
	"fmt"
	"os"
	"testing"

	"github.com/sohoa/sohoa/ingest/sandbox"
)

// parserEnv marks this test binary, started by a sandbox.Pool, as the
// parser process (see newParser).
const parserEnv = "SOHOA_INGEST_TEST_PARSER=1"

func TestMain(m *testing.M) {
	if os.Getenv("SOHOA_INGEST_TEST_PARSER") == "1" {
		if err := sandbox.ServeStdio(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
