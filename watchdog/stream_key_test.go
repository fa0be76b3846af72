package watchdog

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/clooster/clooster/internal/failover"
)

func TestKeyRefused(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"the server said so", fmt.Errorf("read proof: %w", &refusal{Kind: failover.ProblemKey, Theirs: true}), true},
		{"the server closed after the proof (a lossy path can do that)", fmt.Errorf("read proof: %w (%w)", io.EOF, errProofRefused), false},
		{"a name refused", &refusal{Kind: failover.ProblemName, Theirs: true}, false},
		{"the server's proof is bad (a relay)", errBadProof, false},
		{"closed after the hello", errClosedAfterHello, false},
		{"another error", errors.New("dial tcp: connection refused"), false},
	}
	for _, tt := range tests {
		if got := KeyRefused(tt.err); got != tt.want {
			t.Errorf("%s: KeyRefused(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
