package konorkestra

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Change is one new revision of a watched key, as the agent applied it.
type Change struct {
	Meta
	// Previous is the revision delivered before this one (0 for the first of a watch).
	Previous uint64
	// Value is the value as JSON; Decode it into the caller's type.
	Value json.RawMessage
}

// Decode decodes the change's value into v (a pointer, as for json.Unmarshal).
func (ch Change) Decode(v any) error { return decodeValue(ch.Key, ch.Revision, ch.Value, v) }

// Handler is called with each change.
type Handler func(Change)

// Longest wait between two attempts to reach the agent again.
const maxRetry = 2 * time.Second

// A stream silent this long (the agent writes a keep-alive comment every 15 s) is dropped and
// opened again: the agent hangs, or the connection is gone without an end.
const idleLimit = 45 * time.Second

// Watch calls handlers with the current value of key, then with each change, until ctx ends
// (it then returns ctx.Err()). See WatchFrom.
func (c *Client) Watch(ctx context.Context, key string, handlers ...Handler) error {
	return c.WatchFrom(ctx, key, 0, handlers...)
}

// WatchFrom calls handlers with each revision of key above after, in order, until ctx ends (it
// then returns ctx.Err()). It follows the agent's server-sent events (`/v1/watch`); when the
// agent goes away (a restart) it reconnects with the last revision delivered, so no change is
// lost or delivered twice. Intermediate revisions are not replayed: the agent keeps current
// values. It returns early only for an error retrying cannot fix (an invalid key, an answer
// outside the agent's contract).
func (c *Client) WatchFrom(ctx context.Context, key string, after uint64, handlers ...Handler) error {
	w := &watch{c: c, key: key, last: after, handlers: handlers, retry: time.Second}
	failures := 0
	for {
		err := w.stream(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retryable(err) {
			return err
		}
		if err == nil {
			failures = 0 // a clean end of the stream: the agent stopped
		} else {
			failures++
		}
		wait := w.retry
		if failures > 1 {
			wait = time.Duration(failures) * w.retry
		}
		if wait > maxRetry {
			wait = maxRetry
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

type watch struct {
	c        *Client
	key      string
	last     uint64
	handlers []Handler
	retry    time.Duration
}

// stream follows one event stream until it ends; nil means it ended cleanly.
func (w *watch) stream(ctx context.Context) error {
	q := url.Values{"keys": {w.key}, "since": {strconv.FormatUint(w.last, 10)}}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res, err := w.c.do(sctx, http.MethodGet, "/v1/watch?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, err := readBody(res)
		if err != nil {
			return err
		}
		return agentError(res, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return malformed("/v1/watch answered content type %q, not an event stream", ct)
	}
	idle := time.AfterFunc(idleLimit, cancel)
	defer idle.Stop()
	return w.read(bufio.NewReaderSize(res.Body, 64<<10), func() { idle.Reset(idleLimit) })
}

// read parses server-sent events (id, event, data, retry; comments ignored) and delivers them.
func (w *watch) read(r *bufio.Reader, alive func()) error {
	var event, data string
	for {
		line, err := readLine(r)
		alive()
		if err != nil {
			return &Error{Code: CodeUnreachable, Message: "watch stream ended: " + err.Error(), Err: err}
		}
		switch {
		case line == "":
			if data != "" && (event == "config" || event == "") {
				if err := w.deliver(data); err != nil {
					return err
				}
			}
			event, data = "", ""
		case strings.HasPrefix(line, ":"):
		default:
			name, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch name {
			case "event":
				event = value
			case "data":
				if data != "" {
					data += "\n"
				}
				data += value
			case "retry":
				if ms, err := strconv.Atoi(value); err == nil && ms > 0 {
					w.retry = time.Duration(ms) * time.Millisecond
				}
			}
		}
	}
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(line) > maxBody {
		return "", fmt.Errorf("event line over %d bytes", maxBody)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (w *watch) deliver(data string) error {
	v, err := parseView([]byte(data), w.key)
	if err != nil {
		return err
	}
	if v.Revision <= w.last {
		return nil // already delivered (a resumed stream); never go back
	}
	ch := Change{Meta: v.Meta, Previous: w.last, Value: v.Value}
	w.last = v.Revision
	for i, h := range w.handlers {
		w.call(i, h, ch)
	}
	return nil
}

func (w *watch) call(i int, h Handler, ch Change) {
	defer func() {
		if p := recover(); p != nil {
			w.c.recovered(fmt.Sprintf("watch %s (handler %d, revision %d)", w.key, i, ch.Revision), p)
		}
	}()
	h(ch)
}
