package konorkestra

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// buildExample compiles examples/go-service into a temp folder.
func buildExample(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "go-service")
	// The toolchain running these tests builds the example too (no other go need be on PATH).
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(repoRoot, "examples/go-service")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/go-service: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func get(url string) (string, error) {
	res, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return strings.TrimSpace(string(b)), err
}

// eventually polls f until it returns want.
func eventually(t *testing.T, what, want string, f func() (string, error), p *proc) {
	t.Helper()
	deadline := time.Now().Add(25 * time.Second)
	var got string
	var err error
	for time.Now().Before(deadline) {
		if got, err = f(); err == nil && got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: got %q (%v), want %q\n%s", what, got, err, want, p.output())
}

// The example runs under `kon run --render --signal HUP`; an edit of its YAML file reaches its
// HTTP answers through the loader, NATS, kon run's render and the SIGHUP handler it registered
// with OnSignal, in the same process.
func TestExampleUnderKonRunFollowsAFileEdit(t *testing.T) {
	t.Parallel()
	bin := buildExample(t)
	rendered := filepath.Join(t.TempDir(), "greeter.json")
	url := fmt.Sprintf("http://127.0.0.1:%d/?name=go", freePort(t))
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/?name=go")
	kon, err := startKon([]string{"run", "--group", testGroup, "--join-key-file", stack.JoinKeyFile,
		"--node", "go-svc", "--heartbeat-interval", "500", "--key", "svc", "--render", rendered,
		"--signal", "HUP", "--", bin, "-listen", addr, "-config", rendered})
	if err != nil {
		t.Fatal(err)
	}
	defer kon.stop()
	eventually(t, "first answer", "hello, go", func() (string, error) { return get(url) }, kon)
	pid := regexp.MustCompile(`loaded revision=file pid=(\d+)`).FindStringSubmatch(kon.output())
	if pid == nil {
		t.Fatalf("no load line\n%s", kon.output())
	}
	waitEvent(t, "go-svc", "up", 20*time.Second)

	writeConfig(t, "svc", "greeting: bonjour\nstyle: upper\n")
	eventually(t, "answer after the edit", "BONJOUR, GO", func() (string, error) { return get(url) }, kon)
	if !strings.Contains(kon.output(), "sending SIGHUP to pid "+pid[1]) {
		t.Fatalf("not signalled (or restarted)\n%s", kon.output())
	}
	// A value the service refuses keeps the current one.
	writeConfig(t, "svc", "greeting: bonjour\nstyle: shouting\n")
	waitOutput(t, kon, `style "shouting": use plain, upper or json`)
	if got, err := get(url); err != nil || got != "BONJOUR, GO" {
		t.Fatalf("after a refused value: %q %v", got, err)
	}
	if n := strings.Count(kon.output(), "loaded revision=file pid="+pid[1]); n != 2 {
		t.Fatalf("%d loads by pid %s\n%s", n, pid[1], kon.output())
	}
	if code := kon.stop(); code != 0 {
		t.Fatalf("kon run exit %d\n%s", code, kon.output())
	}
	waitEvent(t, "go-svc", "left", 20*time.Second)
}

func waitOutput(t *testing.T, p *proc, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.output(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output\n%s", text, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With an agent, the example reads its key through GetConfig and follows it with WatchFrom.
func TestExampleWithAgentWatches(t *testing.T) {
	t.Parallel()
	bin := buildExample(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-listen", addr, "-key", "watched2")
	cmd.Env = []string{EnvSocket + "=" + sharedSocket}
	out, _ := cmd.StdoutPipe()
	writeConfig(t, "watched2", "greeting: hi\nstyle: json\n")
	c, _ := Connect(sharedSocket)
	for {
		if _, err := c.GetConfig(ctx, "watched2", nil); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || !strings.Contains(lines.Text(), `greeting="hi" style="json"`) {
		t.Fatalf("first line %q", lines.Text())
	}
	p := &proc{}
	eventually(t, "json answer", `{"message":"hi, go","pid":`+fmt.Sprint(cmd.Process.Pid)+`}`, func() (string, error) { return get("http://" + addr + "/?name=go") }, p)
	writeConfig(t, "watched2", "greeting: hey\n")
	eventually(t, "plain answer", "hey, go", func() (string, error) { return get("http://" + addr + "/?name=go") }, p)
}
