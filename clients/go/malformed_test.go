package konorkestra

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// fakeAgent serves routes on a temp Unix socket: only for answers a real agent never gives.
func fakeAgent(t *testing.T, routes map[string]http.HandlerFunc) string {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "fake.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for path, h := range routes {
		mux.HandleFunc(path, h)
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return socket
}

func answer(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func TestMalformedAgentAnswers(t *testing.T) {
	const js = "application/json"
	socket := fakeAgent(t, map[string]http.HandlerFunc{
		"/healthz":          answer(200, js, `{"status":"ok","group":"g","node":"n"}`),
		"/v1/config/html":   answer(200, "text/html", "<html>proxy error</html>"),
		"/v1/config/nokey":  answer(200, js, `{"revision":3,"value":{}}`),
		"/v1/config/strrev": answer(200, js, `{"key":"strrev","revision":"3","value":{}}`),
		"/v1/config/other":  answer(200, js, `{"key":"elsewhere","revision":3,"value":{}}`),
		"/v1/config/refuse": answer(200, js, `{"key":"refuse","revision":3,"value":{},"refused":{"revision":3,"reason":"bad","code":"X"}}`),
		"/v1/config/err500": answer(500, "text/plain", "oops"),
		"/v1/config/busy":   answer(503, js, `{"error":{"code":"UNAVAILABLE","message":"offline","details":{}}}`),
		"/v1/watch":         answer(200, "text/event-stream", "retry: 100\n\nid: 4\nevent: config\ndata: {\"key\":\"w\",\"revision\":4,\"value\":{\"a\":1}}\n\nid: 5\nevent: config\ndata: not json\n\n"),
	})
	c, err := Connect(socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, key := range []string{"html", "nokey", "strrev", "other", "refuse", "err500"} {
		var v map[string]any
		_, err := c.GetConfig(ctx, key, &v)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: want a MALFORMED error, got %v", key, err)
		}
	}
	_, err = c.GetConfig(ctx, "busy", nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeUnavailable || e.Status != 503 || e.Message != "offline" {
		t.Errorf("agent error: %#v", err)
	}

	// A watch delivers the good event, then stops at the bad one instead of guessing.
	var got []uint64
	err = c.Watch(ctx, "w", func(ch Change) { got = append(got, ch.Revision) })
	if !errors.Is(err, ErrMalformed) || len(got) != 1 || got[0] != 4 {
		t.Fatalf("watch: delivered %v, ended with %v", got, err)
	}
}

func TestHealthMalformed(t *testing.T) {
	socket := fakeAgent(t, map[string]http.HandlerFunc{"/healthz": answer(200, "text/plain", "fine")})
	if _, err := Connect(socket); !errors.Is(err, ErrMalformed) {
		t.Fatalf("connect to a non-agent: %v", err)
	}
}
