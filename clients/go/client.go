package konorkestra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// EnvSocket names the variable holding the agent's socket path.
const EnvSocket = "KON_AGENT_SOCKET"

// Largest answer body the library reads, in bytes (a config value is at most 1 MiB in NATS).
const maxBody = 4 << 20

// Client talks to one `kon agent` over its Unix socket. It is safe for concurrent use; it keeps
// no connection open between calls, so an agent restart needs nothing from the caller.
type Client struct {
	// SocketPath is the agent's socket.
	SocketPath string
	// Node is the node id heartbeats are sent as ($KON_NODE_ID, else derived from the host
	// name and program name). Set it before Heartbeat.
	Node string
	// OnPanic is told of a handler's panic (Watch, OnSignal); nil logs it.
	OnPanic func(where string, recovered any)

	http *http.Client
}

// Health is the agent's `/healthz` answer.
type Health struct {
	Status       string `json:"status"`
	Group        string `json:"group"`
	Node         string `json:"node"`
	Keys         int    `json:"keys"`
	HeartbeatSeq int64  `json:"heartbeatSeq"`
	Waiting      int    `json:"waiting"`
	UptimeMs     int64  `json:"uptimeMs"`
}

// Connect returns a client of the agent listening on socketPath ("" = $KON_AGENT_SOCKET) after
// asking the agent for its health: an agent that is up but offline from NATS (it then serves the
// last values it has) is accepted; nothing listening is a CodeUnreachable error.
func Connect(socketPath string) (*Client, error) {
	c, err := NewClient(socketPath)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Health(ctx); err != nil {
		if e, ok := err.(*Error); ok && e.Code == CodeUnavailable {
			return c, nil
		}
		return nil, err
	}
	return c, nil
}

// NewClient is Connect without the health check (for a service that starts before its agent).
func NewClient(socketPath string) (*Client, error) {
	if socketPath == "" {
		socketPath = os.Getenv(EnvSocket)
	}
	if socketPath == "" {
		return nil, &Error{Code: CodeInvalidInput, Message: "no agent socket: pass its path or set " + EnvSocket}
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConns:          4,
		IdleConnTimeout:       4 * time.Second, // under the agent's 5 s keep-alive
		ResponseHeaderTimeout: 0,               // long-polls wait up to 300 s
	}
	return &Client{SocketPath: socketPath, Node: defaultNode(), http: &http.Client{Transport: transport}}, nil
}

// Health asks the agent for its `/healthz`; an offline agent answers CodeUnavailable.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	res, err := c.do(ctx, http.MethodGet, "/healthz", nil)
	if err != nil {
		return h, err
	}
	defer res.Body.Close()
	body, err := readBody(res)
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(body, &h); err != nil || h.Status == "" {
		return h, malformed("/healthz answered %q", clip(body))
	}
	if res.StatusCode == http.StatusServiceUnavailable {
		return h, &Error{Code: CodeUnavailable, Status: res.StatusCode, Message: "agent is not connected to NATS (serving its last values)"}
	}
	if res.StatusCode != http.StatusOK {
		return h, malformed("/healthz answered HTTP %d", res.StatusCode)
	}
	return h, nil
}

// do sends one request; a dial failure is CodeUnreachable.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://kon"+path, body)
	if err != nil {
		return nil, &Error{Code: CodeInvalidInput, Message: err.Error(), Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{Code: CodeUnreachable, Message: fmt.Sprintf("%s %s on %s: %v", method, path, c.SocketPath, err), Err: err}
	}
	return res, nil
}

func readBody(res *http.Response) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil {
		return nil, &Error{Code: CodeUnreachable, Message: "answer cut off: " + err.Error(), Err: err}
	}
	if len(body) > maxBody {
		return nil, malformed("answer larger than %d bytes", maxBody)
	}
	return body, nil
}

// agentError turns a non-2xx answer into an *Error with the agent's code.
func agentError(res *http.Response, body []byte) error {
	var envelope struct {
		Error *struct {
			Code    string         `json:"code"`
			Message string         `json:"message"`
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil || envelope.Error == nil || envelope.Error.Code == "" {
		return &Error{Code: CodeMalformed, Status: res.StatusCode, Message: fmt.Sprintf("HTTP %d without an error body: %q", res.StatusCode, clip(body))}
	}
	e := envelope.Error
	out := &Error{Code: e.Code, Message: e.Message, Status: res.StatusCode, Details: e.Details}
	if s, err := strconv.Atoi(strings.TrimSpace(res.Header.Get("Retry-After"))); err == nil && s >= 0 {
		out.RetryAfter = time.Duration(s) * time.Second
	}
	return out
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

func (c *Client) recovered(where string, p any) {
	if c.OnPanic != nil {
		c.OnPanic(where, p)
		return
	}
	log.Printf("konorkestra: handler of %s panicked: %v", where, p)
}

// isCtx says whether err is the end of the caller's context.
func isCtx(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || err == ctx.Err())
}
