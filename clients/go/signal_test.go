package konorkestra

import (
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestOnSignalRunsHandlersInOrderPastAPanic(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	done := make(chan struct{}, 4)
	stop1 := OnSignal(syscall.SIGUSR2, func() {
		mu.Lock()
		seen = append(seen, "a")
		mu.Unlock()
		panic("first handler fails")
	})
	stop2 := OnSignal(syscall.SIGUSR2, func() {
		mu.Lock()
		seen = append(seen, "b")
		mu.Unlock()
		done <- struct{}{}
	})
	defer stop2()
	for i := 0; i < 2; i++ {
		if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("handler not called")
		}
	}
	stop1()
	_ = syscall.Kill(os.Getpid(), syscall.SIGUSR2)
	<-done
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(seen, ""); got != "ababb" {
		t.Fatalf("handlers ran %q, want ababb", got)
	}
}
