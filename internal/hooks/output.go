package hooks

import (
	"bytes"
	"log/slog"
	"strings"
)

// lineLogger logs what a hook writes, one record per line, up to maxLines
// lines of at most maxLineBytes each; it counts the lines it leaves out.
// exec.Cmd calls Write from one goroutine at a time when Stdout and Stderr
// are this same writer.
type lineLogger struct {
	log  *slog.Logger
	hook string

	buf     []byte // the line being written
	cut     bool   // buf's line was longer than maxLineBytes
	lines   int    // lines logged
	skipped int    // lines not logged, past maxLines
}

func (w *lineLogger) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxLineBytes - len(w.buf); len(chunk) > room {
			w.buf = append(w.buf, chunk[:room]...)
			w.cut = true
		} else {
			w.buf = append(w.buf, chunk...)
		}
		if i < 0 {
			break
		}
		w.emit()
		p = p[i+1:]
	}
	return n, nil
}

// emit logs the line in buf and empties it.
func (w *lineLogger) emit() {
	line := strings.ToValidUTF8(strings.TrimSuffix(string(w.buf), "\r"), "\uFFFD")
	if w.cut {
		line += "…"
	}
	w.buf, w.cut = w.buf[:0], false
	if w.lines >= maxLines {
		w.skipped++
		return
	}
	w.lines++
	w.log.Info("hook output", keyHook, w.hook, keyLine, line)
}

// flush logs an unfinished last line and how many lines were left out.
// The hook's output must be closed.
func (w *lineLogger) flush() {
	if len(w.buf) > 0 || w.cut {
		w.emit()
	}
	if w.skipped > 0 {
		w.log.Info("hook output cut short", keyHook, w.hook, keyLogged, w.lines, keySkipped, w.skipped)
	}
}
