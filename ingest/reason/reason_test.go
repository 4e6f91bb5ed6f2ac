package reason

import (
	"strings"
	"testing"
)

// TestAdviceExample: the advice gives the example code asked for, and no
// text shows its placeholder.
func TestAdviceExample(t *testing.T) {
	const code = "000.00.13.H57-261207-0001"
	for _, c := range append(append([]Code{}, Rejections...), Holds...) {
		for _, got := range []string{c.Advice(), c.AdviceFor(code)} {
			if got == "" || strings.Contains(got, "{") {
				t.Errorf("%s: advice %q", c, got)
			}
		}
	}
	for _, c := range []Code{NoCode, BeforeReceipt} {
		if got := c.AdviceFor(code); !strings.Contains(got, "(ví dụ "+code+".pdf)") {
			t.Errorf("%s: %q does not give the example", c, got)
		}
	}
}
