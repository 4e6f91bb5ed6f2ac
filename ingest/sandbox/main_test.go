package sandbox_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/sohoa/sohoa/ingest/sandbox"
)

// childEnv marks this test binary, started by a Pool, as the parser process.
const childEnv = "SOHOA_SANDBOX_TEST_PARSER=1"

func TestMain(m *testing.M) {
	if os.Getenv("SOHOA_SANDBOX_TEST_PARSER") == "1" {
		if err := sandbox.ServeStdio(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
