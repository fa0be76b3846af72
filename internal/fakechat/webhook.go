package fakechat

import (
	"encoding/json"
	"io"
	"net/http"
)

// webhook handles /hook and /hook/...: any method, any body. A JSON object
// gives the title and text from its "title" and "message" strings; any
// other body is the text.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	if s.cfg.WebhookAuth != "" && !equal(r.Header.Get("Authorization"), s.cfg.WebhookAuth) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "unauthorized\n")
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	title, text := "", string(raw)
	var obj map[string]any
	if json.Unmarshal(raw, &obj) == nil {
		if t, ok := obj["title"].(string); ok {
			title = t
		}
		if m, ok := obj["message"].(string); ok {
			text = m
		}
	}
	s.record(newMessage(Webhook, r, raw, title, text))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}
