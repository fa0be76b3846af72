// Command mutants runs the mutants that gremlins reports as "not covered"
// because Go's coverage profile marks no block where they sit (a case
// expression, a condition of a switch, a package-level constant): it
// applies each one to the source, runs the package's tests, restores the
// file, and says whether the tests killed it.
//
//	gremlins unleash -o report.json ./internal/failover
//	go run ./tools/mutants -report report.json ./internal/failover
//
// It changes the package's files while it runs (one at a time, restored
// after each run and on an interrupt): run it in a copy of the tree that
// nothing else builds meanwhile.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"
)

type report struct {
	Files []struct {
		Name      string `json:"file_name"`
		Mutations []mutant
	} `json:"files"`
}

type mutant struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	file   string
}

// swaps is, for each mutator, what each operator becomes (gremlins'
// mutators).
var swaps = map[string]map[string]string{
	"CONDITIONALS_NEGATION": {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"},
	"CONDITIONALS_BOUNDARY": {"<": "<=", "<=": "<", ">": ">=", ">=": ">"},
	"ARITHMETIC_BASE":       {"+": "-", "-": "+", "*": "/", "/": "*", "%": "*"},
	"INCREMENT_DECREMENT":   {"++": "--", "--": "++"},
	"INVERT_NEGATIVES":      {"-": "+"},
}

func main() {
	reportFile := flag.String("report", "", "gremlins' JSON report (unleash -o)")
	timeout := flag.Duration("timeout", 5*time.Minute, "limit of one test run")
	flag.Parse()
	if *reportFile == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mutants -report FILE PACKAGE_DIR")
		os.Exit(2)
	}
	if err := run(*reportFile, flag.Arg(0), *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(1)
	}
}

func run(reportFile, dir string, timeout time.Duration) error {
	b, err := os.ReadFile(reportFile)
	if err != nil {
		return err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("read %s: %w", reportFile, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	counts := map[string]int{}
	for _, f := range r.Files {
		for _, m := range f.Mutations {
			counts[m.Status]++
			if m.Status != "NOT COVERED" {
				continue
			}
			m.file = filepath.Join(dir, f.Name)
			status, err := try(ctx, m, dir, timeout)
			if err != nil {
				return err
			}
			counts["ran "+status]++
			fmt.Printf("%-12s %s at %s:%d:%d\n", status, m.Type, f.Name, m.Line, m.Column)
		}
	}
	k, l := counts["KILLED"]+counts["ran KILLED"], counts["LIVED"]+counts["ran LIVED"]
	t := counts["TIMED OUT"] + counts["ran TIMED OUT"]
	total := 0
	for s, n := range counts {
		if !strings.HasPrefix(s, "ran ") {
			total += n
		}
	}
	fmt.Printf("\ngremlins: killed %d, lived %d, timed out %d, not covered %d, not viable %d\n",
		counts["KILLED"], counts["LIVED"], counts["TIMED OUT"], counts["NOT COVERED"], counts["NOT VIABLE"])
	fmt.Printf("not covered, run here: killed %d, lived %d, timed out %d, not viable %d, not applicable %d\n",
		counts["ran KILLED"], counts["ran LIVED"], counts["ran TIMED OUT"], counts["ran NOT VIABLE"], counts["ran NOT APPLICABLE"])
	fmt.Printf("together: %d mutants; efficacy %.1f %% (killed of killed and lived); run by a test %.1f %%\n",
		total, 100*float64(k)/float64(max(k+l, 1)), 100*float64(k+l+t)/float64(max(total, 1)))
	return nil
}

// try applies m, runs the tests and restores the file.
func try(ctx context.Context, m mutant, dir string, timeout time.Duration) (string, error) {
	orig, err := os.ReadFile(m.file)
	if err != nil {
		return "", err
	}
	mutated, ok := apply(orig, m)
	if !ok {
		return "NOT APPLICABLE", nil
	}
	if err := os.WriteFile(m.file, mutated, 0o644); err != nil {
		return "", err
	}
	defer os.WriteFile(m.file, orig, 0o644) // restored whatever happened
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, "go", "test", "-count=1", "./"+filepath.Clean(dir))
	out, err := cmd.CombinedOutput()
	switch {
	case ctx.Err() != nil:
		return "", ctx.Err()
	case tctx.Err() != nil:
		return "TIMED OUT", nil
	case err == nil:
		return "LIVED", nil
	case bytes.Contains(out, []byte("[build failed]")) || bytes.Contains(out, []byte("[setup failed]")):
		return "NOT VIABLE", nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return "", err
	}
	return "KILLED", nil
}

// apply is src with m's operator at its line and column swapped; false if
// no operator of m's mutator is there.
func apply(src []byte, m mutant) ([]byte, bool) {
	lines := bytes.SplitAfter(src, []byte("\n"))
	if m.Line < 1 || m.Line > len(lines) {
		return nil, false
	}
	line := lines[m.Line-1]
	at := m.Column - 1
	if at < 0 || at >= len(line) {
		return nil, false
	}
	for _, n := range []int{2, 1} {
		if at+n > len(line) {
			continue
		}
		if to, ok := swaps[m.Type][string(line[at:at+n])]; ok {
			if n == 1 && at+1 < len(line) && strings.ContainsRune("=<>+-&|", rune(line[at+1])) {
				continue // the first byte of a longer operator
			}
			out := append([]byte{}, line[:at]...)
			out = append(out, to...)
			out = append(out, line[at+n:]...)
			lines[m.Line-1] = out
			return bytes.Join(lines, nil), true
		}
	}
	return nil, false
}
