package konorkestra

// The real stack the tests run against: cli/test/go-stack.ts (nats-server, the admin's callout,
// the config-loader on a temp folder, the liveness monitor) as one child process, and `kon agent`
// and `kon run` as real processes from cli/dist/bin.js. Nothing is mocked.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const testGroup = "go-t"

var initialFiles = map[string]string{
	"greeter": "greeting: hello\nstyle: plain\n",
	"watched": "step: 0\n",
	"waited":  "step: 0\n",
	"svc":     "greeting: hello\nstyle: plain\n",
	"guarded": "step: 0\n",
}

type stackInfo struct {
	Ready       bool              `json:"ready"`
	Group       string            `json:"group"`
	Root        string            `json:"root"`
	ConfigDir   string            `json:"configDir"`
	JoinKeyFile string            `json:"joinKeyFile"`
	KonBin      string            `json:"konBin"`
	Node        string            `json:"node"`
	Env         map[string]string `json:"env"`
}

// stackLine is a line the stack prints after the ready line.
type stackLine struct {
	Event    string `json:"event"`
	Node     string `json:"node"`
	Monitor  string `json:"monitor"`
	Forged   string `json:"forged"`
	Revision uint64 `json:"revision"`
	Error    string `json:"error"`
}

var (
	stack    stackInfo
	repoRoot string
	// sharedSocket is the agent every test may read from (tests that restart one start their own).
	sharedSocket string

	eventsMu sync.Mutex
	events   = map[string][]string{}
	// monitorReady is closed once the liveness monitor answers.
	monitorReady = make(chan struct{})
	// stackIn takes commands to the stack; stackAnswers its answers to them.
	stackIn      io.Writer
	stackAnswers = make(chan stackLine, 4)
)

func TestMain(m *testing.M) {
	os.Exit(runWithStack(m))
}

func runWithStack(m *testing.M) int {
	root, err := filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	repoRoot = root
	args := []string{filepath.Join(root, "testkit/src/run-ts.cjs"), filepath.Join(root, "cli/test/go-stack.ts"), testGroup}
	for k, v := range initialFiles {
		args = append(args, k+"="+v)
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stackIn = stdin
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "cannot start the test stack (node on PATH?): %v\n", err)
		return 1
	}
	defer func() {
		_ = stdin.Close() // the stack stops everything it started when its stdin closes
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}()
	started := time.Now()
	ready := make(chan error, 1)
	go readStack(stdout, ready)
	select {
	case err := <-ready:
		if err != nil {
			fmt.Fprintf(os.Stderr, "test stack: %v\n", err)
			return 1
		}
	case <-time.After(90 * time.Second):
		fmt.Fprintln(os.Stderr, "test stack: not ready in 90 s")
		return 1
	}
	stackReady := time.Since(started)
	dir, err := os.MkdirTemp("", "kgo")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	sharedSocket = filepath.Join(dir, "agent.sock")
	agent, err := startAgent(sharedSocket, "go-agent-shared")
	if err != nil {
		fmt.Fprintf(os.Stderr, "shared agent: %v\n", err)
		return 1
	}
	defer agent.stop()
	fmt.Fprintf(os.Stderr, "go tests: stack ready in %v, agent in %v more\n",
		stackReady.Round(time.Millisecond), (time.Since(started) - stackReady).Round(time.Millisecond))
	return m.Run()
}

// readStack reads the stack's ready line, then its node events.
func readStack(r io.Reader, ready chan<- error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		ready <- fmt.Errorf("exited before it was ready")
		return
	}
	if err := json.Unmarshal(sc.Bytes(), &stack); err != nil || !stack.Ready {
		ready <- fmt.Errorf("unexpected first line %q", sc.Text())
		return
	}
	ready <- nil
	for sc.Scan() {
		var e stackLine
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if e.Monitor != "" {
			close(monitorReady)
		}
		if e.Forged != "" || e.Error != "" {
			stackAnswers <- e
		}
		if e.Event != "" {
			eventsMu.Lock()
			events[e.Node] = append(events[e.Node], e.Event)
			eventsMu.Unlock()
		}
	}
}

// waitEvent waits until node has had the event kind; returns the node's events so far.
func waitEvent(t *testing.T, node, kind string, timeout time.Duration) []string {
	t.Helper()
	waitMonitor(t)
	deadline := time.Now().Add(timeout)
	for {
		eventsMu.Lock()
		got := append([]string(nil), events[node]...)
		eventsMu.Unlock()
		for _, k := range got {
			if k == kind {
				return got
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node.%s of %s not seen in %v; events: %v", kind, node, timeout, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitMonitor waits until the liveness monitor answers (it starts alongside the first tests).
func waitMonitor(t *testing.T) {
	t.Helper()
	select {
	case <-monitorReady:
	case <-time.After(90 * time.Second):
		t.Fatal("the liveness monitor did not answer in 90 s")
	}
}

// forge has the stack put an entry whose sha256 is not its payload's under key; returns its revision.
func forge(t *testing.T, key string) uint64 {
	t.Helper()
	if _, err := fmt.Fprintf(stackIn, "{\"forge\":%q}\n", key); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-stackAnswers:
		if a.Forged != key {
			t.Fatalf("forge %s: %+v", key, a)
		}
		return a.Revision
	case <-time.After(15 * time.Second):
		t.Fatalf("forge %s: no answer", key)
		return 0
	}
}

var snapshotSeq int

// konEnv is the environment of a kon process: the stack's KON_* and a private snapshot dir.
func konEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KON_") {
			env = append(env, kv)
		}
	}
	snapshotSeq++
	for k, v := range stack.Env {
		if k == "KON_SNAPSHOT_DIR" {
			v = filepath.Join(stack.Root, fmt.Sprintf("go-state-%d", snapshotSeq))
		}
		env = append(env, k+"="+v)
	}
	return env
}

// proc is a kon process whose output the test can read.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder
	exited chan struct{}
	err    error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func startKon(args []string, extraEnv ...string) (*proc, error) {
	p := &proc{exited: make(chan struct{})}
	p.cmd = exec.Command(stack.Node, append([]string{stack.KonBin}, args...)...)
	p.cmd.Env = append(konEnv(), extraEnv...)
	p.cmd.Stdout = p
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

// stop sends SIGTERM and waits for the exit; returns the exit code.
func (p *proc) stop() int {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	return p.cmd.ProcessState.ExitCode()
}

// startAgent starts `kon agent` on socket and waits until it answers.
func startAgent(socket, node string) (*proc, error) {
	p, err := startKon([]string{"agent", "--socket", socket, "--group", testGroup,
		"--join-key-file", stack.JoinKeyFile, "--node", node, "--heartbeat-interval", "500"})
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := NewClient(socket)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = c.Health(ctx)
			cancel()
			if err == nil {
				return p, nil
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("kon agent exited: %v\n%s", p.err, p.output())
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("kon agent not answering in 30 s: %v\n%s", err, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeConfig saves <group>/<key>.yaml as editors do (temp file, then rename).
func writeConfig(t *testing.T, key, yaml string) {
	t.Helper()
	path := filepath.Join(stack.ConfigDir, testGroup, key+".yaml")
	if err := os.WriteFile(path+".tmp", []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}
