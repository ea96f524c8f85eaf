package konorkestra

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// EnvNode names the variable holding the node id heartbeats are sent as.
const EnvNode = "KON_NODE_ID"

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_=-]{1,128}$`)

// defaultNode is $KON_NODE_ID, else "<host>-<program>" with other characters as '-'.
func defaultNode() string {
	if n := os.Getenv(EnvNode); n != "" {
		return n
	}
	host, _ := os.Hostname()
	raw := host + "-" + filepath.Base(os.Args[0])
	clean := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, raw)
	if len(clean) > 128 {
		clean = clean[:128]
	}
	return clean
}

// HeartbeatOptions are the details of a heartbeat (see Client.HeartbeatWith).
type HeartbeatOptions struct {
	// Interval between beats (100 ms to 1 h).
	Interval time.Duration
	// AllowedMisses before the monitors report node.down. @default 3
	AllowedMisses int
	// ServiceName and ServiceVersion describe the process. ServiceName defaults to the program name.
	ServiceName    string
	ServiceVersion string
	// Meta is free-form labels.
	Meta map[string]string
}

// Beater sends one node's heartbeats through the agent until its context ends (the monitors
// then report node.down, as for a crash) or Leave is called (node.left).
type Beater struct {
	c      *Client
	body   beatBody
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	lastErr error
	seq     int64
}

type beatBody struct {
	Node           string            `json:"node"`
	IntervalMs     int64             `json:"intervalMs"`
	AllowedMisses  int               `json:"allowedMisses"`
	Leaving        bool              `json:"leaving"`
	ServiceName    string            `json:"serviceName"`
	ServiceVersion string            `json:"serviceVersion"`
	Pid            int               `json:"pid"`
	Meta           map[string]string `json:"meta"`
	Config         map[string]uint64 `json:"config"`
}

// Heartbeat beats for c.Node every interval through the agent (`POST /v1/heartbeat`). The first
// beat is sent before it returns, so a refused one (bad node id, interval) is its error.
func (c *Client) Heartbeat(ctx context.Context, interval time.Duration) (*Beater, error) {
	return c.HeartbeatWith(ctx, HeartbeatOptions{Interval: interval})
}

// HeartbeatWith is Heartbeat with the beat's details.
func (c *Client) HeartbeatWith(ctx context.Context, o HeartbeatOptions) (*Beater, error) {
	if !nodeIDPattern.MatchString(c.Node) {
		return nil, &Error{Code: CodeInvalidInput, Message: fmt.Sprintf("node id %q: use 1-128 of letters, digits, '_', '-' or '='", c.Node)}
	}
	if o.AllowedMisses == 0 {
		o.AllowedMisses = 3
	}
	if o.ServiceName == "" {
		o.ServiceName = filepath.Base(os.Args[0])
	}
	if o.Meta == nil {
		o.Meta = map[string]string{}
	}
	b := &Beater{c: c, done: make(chan struct{}), body: beatBody{
		Node: c.Node, IntervalMs: o.Interval.Milliseconds(), AllowedMisses: o.AllowedMisses,
		ServiceName: o.ServiceName, ServiceVersion: o.ServiceVersion, Pid: os.Getpid(),
		Meta: o.Meta, Config: map[string]uint64{},
	}}
	if err := b.beat(ctx, false); err != nil {
		return nil, err
	}
	bctx, cancel := context.WithCancel(ctx)
	b.cancel = cancel
	go b.loop(bctx, o.Interval)
	return b, nil
}

func (b *Beater) loop(ctx context.Context, interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := b.beat(ctx, false)
			if isCtx(ctx, err) {
				return
			}
			b.mu.Lock()
			b.lastErr = err
			b.mu.Unlock()
		}
	}
}

// SetApplied reports in the next beats that this process runs revision of key (0 removes it).
func (b *Beater) SetApplied(key string, revision uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if revision == 0 {
		delete(b.body.Config, key)
	} else {
		b.body.Config[key] = revision
	}
}

// Err is the error of the last beat (nil when it was stored).
func (b *Beater) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastErr
}

// Seq is the sequence number of the last beat the agent stored.
func (b *Beater) Seq() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seq
}

// Stop ends the beats without a leaving beat: the monitors report node.down after the misses.
func (b *Beater) Stop() {
	b.cancel()
	<-b.done
}

// Leave ends the beats with a leaving beat: the monitors report node.left.
func (b *Beater) Leave(ctx context.Context) error {
	b.Stop()
	return b.beat(ctx, true)
}

func (b *Beater) beat(ctx context.Context, leaving bool) error {
	b.mu.Lock()
	body := b.body
	body.Leaving = leaving
	cfg := make(map[string]uint64, len(b.body.Config))
	for k, v := range b.body.Config {
		cfg[k] = v
	}
	body.Config = cfg
	b.mu.Unlock()
	raw, err := json.Marshal(body)
	if err != nil {
		return &Error{Code: CodeInvalidInput, Message: err.Error(), Err: err}
	}
	res, err := b.c.do(ctx, http.MethodPost, "/v1/heartbeat", bytes.NewReader(raw))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	answer, err := readBody(res)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusAccepted {
		return agentError(res, answer)
	}
	var ack struct {
		Node *string `json:"node"`
		Seq  *int64  `json:"seq"`
	}
	if err := json.Unmarshal(answer, &ack); err != nil || ack.Seq == nil || ack.Node == nil || *ack.Node != body.Node {
		return malformed("heartbeat of %s answered %q", body.Node, clip(answer))
	}
	b.mu.Lock()
	b.seq = *ack.Seq
	b.mu.Unlock()
	return nil
}
