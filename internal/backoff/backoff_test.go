package backoff_test

import (
	"testing"
	"time"

	"github.com/clooster/clooster/internal/backoff"
)

func TestDelay(t *testing.T) {
	p := backoff.Policy{Min: 250 * time.Millisecond, Max: 8 * time.Second}
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{0, 250 * time.Millisecond},
		{1, 250 * time.Millisecond},
		{2, 500 * time.Millisecond},
		{3, time.Second},
		{6, 8 * time.Second},
		{7, 8 * time.Second},
		{1000, 8 * time.Second},
	}
	for _, tt := range tests {
		if got := p.Delay(tt.failures); got != tt.want {
			t.Errorf("Delay(%d) = %s, want %s", tt.failures, got, tt.want)
		}
	}
}

func TestJitteredStaysInTheUpperHalf(t *testing.T) {
	p := backoff.Policy{Min: time.Second, Max: 4 * time.Second}
	lowest := func(int64) int64 { return 0 }
	highest := func(k int64) int64 { return k - 1 }
	for failures := 1; failures <= 5; failures++ {
		d := p.Delay(failures)
		if got := p.Jittered(failures, lowest); got != d/2 {
			t.Errorf("failures %d, lowest draw: got %s, want %s", failures, got, d/2)
		}
		if got := p.Jittered(failures, highest); got != d {
			t.Errorf("failures %d, highest draw: got %s, want %s", failures, got, d)
		}
	}
	if got := backoff.UpperHalf(1, highest); got != 1 {
		t.Errorf("UpperHalf(1ns) = %s, want 1ns", got)
	}
}
