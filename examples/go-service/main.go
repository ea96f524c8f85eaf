// A small HTTP service (loopback only) whose greeting and style come from Konorkestra, read
// through the Go library, and change while it runs:
//
//	kon run --key greeter --render /run/greeter.json --signal HUP -- go-service -config /run/greeter.json
//	KON_AGENT_SOCKET=/run/kon/agent.sock go-service -key greeter
//
// Under `kon run` it reloads the rendered file on SIGHUP; with an agent it watches the key.
// Each value is checked before it replaces the current one: a bad value keeps the old one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	konorkestra "github.com/konorkestra/konorkestra/clients/go"
)

// Config is the value of the service's key.
type Config struct {
	Greeting string `json:"greeting"`
	// Style is "plain" (default), "upper" or "json".
	Style string `json:"style"`
}

func (c Config) check() error {
	if c.Greeting == "" {
		return errors.New("greeting is empty")
	}
	switch c.Style {
	case "", "plain", "upper", "json":
		return nil
	}
	return fmt.Errorf("style %q: use plain, upper or json", c.Style)
}

// current is what requests are answered with; swapped whole on each accepted change.
type current struct {
	cfg      Config
	revision string
}

var live atomic.Value

func main() {
	listen := flag.String("listen", "127.0.0.1:8089", "loopback address to serve on")
	file := flag.String("config", "", "JSON file rendered by `kon run --render` (reloaded on SIGHUP)")
	key := flag.String("key", "", "config key to read through the agent ($KON_AGENT_SOCKET) and watch")
	flag.Parse()
	if (*file == "") == (*key == "") {
		log.Fatal("give one of -config FILE (under kon run) or -key KEY (with an agent)")
	}
	ln, err := listenLoopback(*listen)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if *file != "" {
		fromFile(*file)
	} else if err := fromAgent(ctx, *key); err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(answer)}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	fmt.Printf("listening on %s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	fmt.Println("stopped")
}

func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-listen %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("-listen %q: only loopback addresses (127.0.0.1, ::1)", addr)
	}
	return net.Listen("tcp", addr)
}

// fromFile loads the rendered file now and again on each SIGHUP from kon run.
func fromFile(path string) {
	load := func() {
		var cfg Config
		if err := konorkestra.LoadFile(path, &cfg); err != nil {
			log.Printf("keeping the current config: %v", err)
			return
		}
		swap(cfg, "file")
	}
	load()
	if live.Load() == nil {
		log.Fatalf("no usable config in %s", path)
	}
	konorkestra.OnSignal(syscall.SIGHUP, load)
}

// fromAgent reads key through the agent, then follows its changes in the background.
func fromAgent(ctx context.Context, key string) error {
	c, err := konorkestra.Connect("")
	if err != nil {
		return err
	}
	var cfg Config
	meta, err := c.GetConfig(ctx, key, &cfg)
	if err != nil {
		return err
	}
	if !swap(cfg, fmt.Sprint(meta.Revision)) {
		return fmt.Errorf("config %s revision %d is not usable", key, meta.Revision)
	}
	go func() {
		err := c.WatchFrom(ctx, key, meta.Revision, func(ch konorkestra.Change) {
			var next Config
			if err := ch.Decode(&next); err != nil {
				log.Printf("keeping the current config: %v", err)
				return
			}
			swap(next, fmt.Sprint(ch.Revision))
		})
		if ctx.Err() == nil {
			log.Fatalf("watch of %s ended: %v", key, err)
		}
	}()
	return nil
}

func swap(cfg Config, revision string) bool {
	if err := cfg.check(); err != nil {
		log.Printf("keeping the current config: revision %s: %v", revision, err)
		return false
	}
	live.Store(current{cfg: cfg, revision: revision})
	fmt.Printf("loaded revision=%s pid=%d greeting=%q style=%q\n", revision, os.Getpid(), cfg.Greeting, cfg.Style)
	return true
}

func answer(w http.ResponseWriter, r *http.Request) {
	cur := live.Load().(current)
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "world"
	}
	text := fmt.Sprintf("%s, %s", cur.cfg.Greeting, name)
	w.Header().Set("Kon-Revision", cur.revision)
	switch cur.cfg.Style {
	case "upper":
		fmt.Fprintln(w, strings.ToUpper(text))
	case "json":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"message": text, "pid": os.Getpid()})
	default:
		fmt.Fprintln(w, text)
	}
}
