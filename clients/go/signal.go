package konorkestra

import (
	"fmt"
	"log"
	"os"
	"os/signal"
	"sync"
)

// signalHandlers holds, per signal, the handlers registered with OnSignal, in order.
type signalHandlers struct {
	mu       sync.Mutex
	bySignal map[os.Signal]*signalRoute
	nextID   int
}

type signalRoute struct {
	ch       chan os.Signal
	handlers []registered
}

type registered struct {
	id int
	fn func()
}

var signals = &signalHandlers{bySignal: map[os.Signal]*signalRoute{}}

// OnSignal calls fn each time the process receives sig: the way a process run under
// `kon run --render FILE --signal HUP` learns that FILE holds a new value (reload it with
// LoadFile). Handlers of one signal run one at a time in registration order, on one goroutine;
// signals arriving while they run collapse into one more run. A panicking handler is recovered
// (logged) and the others still run. Once a handler is registered the signal no longer has its
// default effect (for SIGHUP: ending the process). The returned function removes the handler.
func OnSignal(sig os.Signal, fn func()) (stop func()) {
	s := signals
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := s.nextID
	route := s.bySignal[sig]
	if route == nil {
		route = &signalRoute{ch: make(chan os.Signal, 1)}
		s.bySignal[sig] = route
		signal.Notify(route.ch, sig)
		go s.serve(sig, route)
	}
	route.handlers = append(route.handlers, registered{id: id, fn: fn})
	return func() { s.remove(sig, id) }
}

func (s *signalHandlers) serve(sig os.Signal, route *signalRoute) {
	for range route.ch {
		s.mu.Lock()
		hs := append([]registered(nil), route.handlers...)
		s.mu.Unlock()
		for i, h := range hs {
			runRecovered(fmt.Sprintf("signal %v (handler %d)", sig, i), h.fn)
		}
	}
}

func (s *signalHandlers) remove(sig os.Signal, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	route := s.bySignal[sig]
	if route == nil {
		return
	}
	kept := route.handlers[:0]
	for _, h := range route.handlers {
		if h.id != id {
			kept = append(kept, h)
		}
	}
	route.handlers = kept
	if len(kept) == 0 {
		signal.Stop(route.ch)
		close(route.ch)
		delete(s.bySignal, sig)
	}
}

func runRecovered(where string, fn func()) {
	defer func() {
		if p := recover(); p != nil {
			log.Printf("konorkestra: handler of %s panicked: %v", where, p)
		}
	}()
	fn()
}
