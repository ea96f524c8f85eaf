// Package konorkestra lets a Go service read its Konorkestra configuration, follow its changes
// and send its heartbeats through the local `kon agent`, over HTTP on the agent's Unix socket.
// It uses only the Go standard library.
//
//	c, err := konorkestra.Connect("") // "" = $KON_AGENT_SOCKET
//	var cfg MyConfig
//	meta, err := c.GetConfig(ctx, "service1", &cfg)
//	go c.WatchFrom(ctx, "service1", meta.Revision, func(ch konorkestra.Change) { ... })
//	hb, err := c.Heartbeat(ctx, time.Second)
//	defer hb.Leave(context.Background())
//
// A process run under `kon run --render FILE --signal HUP` reads FILE with [LoadFile] and
// reloads it in a handler registered with [OnSignal].
//
// # Guarantees
//
// These are the same as the TypeScript SDK's:
//
//   - Handlers run in order: the handlers of one [Client.Watch] are called one at a time, in
//     the order they were given, for one change after another in revision order; a handler is
//     never called concurrently with itself or another handler of the same watch. The same holds
//     for the handlers of one signal registered with [OnSignal] (in registration order).
//   - A panicking handler does not stop the watch: the panic is recovered and reported to
//     [Client.OnPanic] (default: a line on the standard logger), and the next handler and the
//     next change are delivered as usual. A panicking signal handler is recovered and logged
//     the same way; the other handlers of the signal still run.
//   - A value the agent marks as refused or pending is never delivered as current. The agent
//     serves only the revision its SDK applied; a newer revision it refused is reported in
//     [Meta.Refused] and one it holds back (activate_at, a strong commit) in
//     [Meta.PendingRevision], never as the value. A watch delivers each key's revisions in
//     increasing order only: after an agent restart it resumes from the last revision it
//     delivered and never delivers that revision, or an older one, again.
//
// Errors from the agent are [*Error] values carrying the agent's code ([CodeNotFound],
// [CodeInvalidInput], ...); the library adds [CodeUnreachable], [CodeMalformed] and
// [CodeDecode]. Match them with errors.Is(err, konorkestra.ErrNotFound) or errors.As.
package konorkestra
