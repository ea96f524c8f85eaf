package konorkestra

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type greeter struct {
	Greeting string `json:"greeting"`
	Style    string `json:"style"`
}

type stepped struct {
	Step int `json:"step"`
}

func TestGetConfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(sharedSocket)
	if err != nil {
		t.Fatal(err)
	}
	var g greeter
	meta, err := c.GetConfig(ctx, "greeter", &g)
	if err != nil {
		t.Fatal(err)
	}
	if g.Greeting == "" || g.Style != "plain" {
		t.Fatalf("decoded %+v", g)
	}
	if meta.Key != "greeter" || meta.Revision == 0 || len(meta.SHA256) != 64 {
		t.Fatalf("meta %+v", meta)
	}
	if !strings.HasSuffix(meta.SourcePath, "greeter.yaml") || meta.Origin != "nats" || meta.Refused != nil || meta.PendingRevision != 0 {
		t.Fatalf("provenance %+v", meta)
	}

	_, err = c.GetConfig(ctx, "no-such-key", &g)
	var e *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &e) || e.Status != 404 {
		t.Fatalf("missing key: %v", err)
	}
	_, err = c.GetConfig(ctx, "bad key!", &g)
	if !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("invalid key: %v", err)
	}
	var wrong struct {
		Greeting int `json:"greeting"`
	}
	if _, err = c.GetConfig(ctx, "greeter", &wrong); !errors.Is(err, ErrDecode) {
		t.Fatalf("value into the wrong type: %v", err)
	}
}

func TestConnectErrors(t *testing.T) {
	t.Setenv(EnvSocket, "")
	if _, err := Connect(""); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("no socket: %v", err)
	}
	if _, err := Connect(filepath.Join(t.TempDir(), "none.sock")); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("nothing listening: %v", err)
	}
	t.Setenv(EnvSocket, sharedSocket)
	c, err := Connect("")
	if err != nil || c.SocketPath != sharedSocket {
		t.Fatalf("from %s: %v", EnvSocket, err)
	}
}

func TestWaitConfigLongPoll(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Connect(sharedSocket)
	if err != nil {
		t.Fatal(err)
	}
	var s stepped
	meta, err := c.GetConfig(ctx, "waited", &s)
	if err != nil {
		t.Fatal(err)
	}
	same, changed, err := c.WaitConfig(ctx, "waited", meta.Revision, 300*time.Millisecond, &s)
	if err != nil || changed || same.Revision != meta.Revision {
		t.Fatalf("timeout: changed=%v rev=%d err=%v", changed, same.Revision, err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		writeConfig(t, "waited", "step: 1\n")
	}()
	next, changed, err := c.WaitConfig(ctx, "waited", meta.Revision, 15*time.Second, &s)
	if err != nil || !changed || next.Revision <= meta.Revision || s.Step != 1 {
		t.Fatalf("change: changed=%v meta=%+v value=%+v err=%v", changed, next, s, err)
	}
}

// recorder keeps what the handlers of a watch saw, in order.
type recorder struct {
	mu   sync.Mutex
	seen []string
	revs []uint64
	ch   chan Change
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.seen = append(r.seen, s)
	r.mu.Unlock()
}

func (r *recorder) next(t *testing.T, what string) Change {
	t.Helper()
	select {
	case ch := <-r.ch:
		return ch
	case <-time.After(20 * time.Second):
		t.Fatalf("no change: %s", what)
		return Change{}
	}
}

func TestWatchAcrossAgentRestart(t *testing.T) {
	t.Parallel()
	socket := filepath.Join(t.TempDir(), "a.sock")
	agent, err := startAgent(socket, "go-agent-restart")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { agent.stop() }()
	c, err := Connect(socket)
	if err != nil {
		t.Fatal(err)
	}
	var panics []string
	var pmu sync.Mutex
	c.OnPanic = func(where string, p any) {
		pmu.Lock()
		panics = append(panics, where)
		pmu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{ch: make(chan Change, 16)}
	done := make(chan error, 1)
	go func() {
		done <- c.Watch(ctx, "watched",
			func(ch Change) {
				rec.add("first")
				var s stepped
				if err := ch.Decode(&s); err == nil && s.Step == 1 {
					panic("handler fails on step 1")
				}
			},
			func(ch Change) {
				rec.add("second")
				rec.ch <- ch
			})
	}()
	step := func(ch Change) int {
		var s stepped
		if err := ch.Decode(&s); err != nil {
			t.Fatal(err)
		}
		return s.Step
	}
	first := rec.next(t, "current value")
	if step(first) != 0 || first.Previous != 0 {
		t.Fatalf("first: %+v", first)
	}
	writeConfig(t, "watched", "step: 1\n")
	second := rec.next(t, "step 1 (its first handler panics)")
	if step(second) != 1 || second.Previous != first.Revision || second.Revision <= first.Revision {
		t.Fatalf("second: %+v", second)
	}

	// The agent goes away; a change made meanwhile arrives once it is back.
	if code := agent.stop(); code != 0 {
		t.Fatalf("agent exit %d\n%s", code, agent.output())
	}
	writeConfig(t, "watched", "step: 2\n")
	time.Sleep(300 * time.Millisecond)
	agent, err = startAgent(socket, "go-agent-restart")
	if err != nil {
		t.Fatal(err)
	}
	third := rec.next(t, "step 2, made while the agent was down")
	if step(third) != 2 || third.Previous != second.Revision {
		t.Fatalf("third: %+v", third)
	}
	writeConfig(t, "watched", "step: 3\n")
	fourth := rec.next(t, "step 3, after the restart")
	if step(fourth) != 3 || fourth.Revision <= third.Revision {
		t.Fatalf("fourth: %+v", fourth)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("watch ended with %v", err)
	}
	select {
	case extra := <-rec.ch:
		t.Fatalf("revision %d delivered twice or out of order", extra.Revision)
	default:
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := strings.Repeat("first,second,", 4)
	if got := strings.Join(rec.seen, ",") + ","; got != want {
		t.Fatalf("handler order %s, want %s", got, want)
	}
	pmu.Lock()
	defer pmu.Unlock()
	if len(panics) != 1 || !strings.Contains(panics[0], "handler 0") {
		t.Fatalf("panics reported: %v", panics)
	}
}

func TestWatchInvalidKeyEnds(t *testing.T) {
	c, err := Connect(sharedSocket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Watch(ctx, "bad key!", func(Change) {}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("watch of an invalid key: %v", err)
	}
}

func TestHeartbeatUpDownLeft(t *testing.T) {
	t.Parallel()
	c, err := Connect(sharedSocket)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c.Node = "go-hb-down"
	crash, err := c.HeartbeatWith(ctx, HeartbeatOptions{Interval: 300 * time.Millisecond, AllowedMisses: 2, ServiceName: "go-test"})
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := Connect(sharedSocket)
	c2.Node = "go-hb-left"
	clean, err := c2.Heartbeat(ctx, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, "go-hb-down", "up", 20*time.Second)
	waitEvent(t, "go-hb-left", "up", 20*time.Second)
	if crash.Seq() < 1 || crash.Err() != nil {
		t.Fatalf("beats: seq %d err %v", crash.Seq(), crash.Err())
	}
	crash.Stop() // no leaving beat: node.down once the beats are missed
	if err := clean.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if got := waitEvent(t, "go-hb-down", "down", 20*time.Second); got[0] != "up" {
		t.Fatalf("events of go-hb-down: %v", got)
	}
	if got := waitEvent(t, "go-hb-left", "left", 20*time.Second); strings.Contains(strings.Join(got, ","), "down") {
		t.Fatalf("events of go-hb-left: %v", got)
	}

	c.Node = "bad node!"
	if _, err := c.Heartbeat(ctx, time.Second); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("bad node id: %v", err)
	}
	c.Node = "go-hb-fast"
	if _, err := c.Heartbeat(ctx, 10*time.Millisecond); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("interval under the agent's minimum: %v", err)
	}
}

// A revision the agent's SDK refuses (its sha256 is not its payload's) is shown in Meta.Refused
// and never delivered: the watch's next change is the next good revision, after the old one.
func TestRefusedRevisionNeverDeliveredAsCurrent(t *testing.T) {
	t.Parallel()
	c, err := Connect(sharedSocket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var before stepped
	meta, err := c.GetConfig(ctx, "guarded", &before)
	if err != nil {
		t.Fatal(err)
	}
	changes := make(chan Change, 4)
	go func() { _ = c.WatchFrom(ctx, "guarded", meta.Revision, func(ch Change) { changes <- ch }) }()
	time.Sleep(200 * time.Millisecond) // the stream is open before the forged write
	forged := forge(t, "guarded")
	var now stepped
	var m Meta
	for m.Refused == nil {
		if m, err = c.GetConfig(ctx, "guarded", &now); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m.Refused.Revision != forged || m.Revision != meta.Revision || now != before || !strings.Contains(m.Refused.Reason, "sha256") {
		t.Fatalf("after the forged revision %d: meta %+v refused %+v value %+v", forged, m, *m.Refused, now)
	}
	writeConfig(t, "guarded", "step: 1\n")
	select {
	case ch := <-changes:
		var s stepped
		if err := ch.Decode(&s); err != nil || s.Step != 1 || ch.Revision <= forged || ch.Previous != meta.Revision {
			t.Fatalf("first change delivered: %+v (%s) %v", ch.Meta, ch.Value, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the good revision after the forged one was not delivered")
	}
}
