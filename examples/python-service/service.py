#!/usr/bin/env python3
"""A service in Python (standard library only) that takes its config from Konorkestra.

Two ways in, no client library needed:

  service.py --socket /run/kon/agent.sock --key service1 [--node py-1]
      reads the key through a local `kon agent` (HTTP over its Unix socket) and follows every
      change with long-polls (?wait=REV); with --node it also beats through the agent.

  kon run --key service1 --render /tmp/service1.json --signal HUP -- service.py --file /tmp/service1.json
      reads the file `kon run` renders, and reloads it on SIGHUP (which `kon run` sends after
      each change); `kon run` beats for it while it lives.

Each load prints one line: `loaded revision=<rev|file> pid=<pid> config=<json>`.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import sys
import threading
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over AF_UNIX: the host name is only what goes in the Host header."""

    def __init__(self, path, timeout):
        super().__init__("kon", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def agent_request(sock_path, method, path, body=None, timeout=10.0):
    conn = UnixHTTPConnection(sock_path, timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        text = resp.read()
        if resp.status == 304:
            return 304, None
        payload = json.loads(text) if text else None
        if resp.status >= 400:
            err = (payload or {}).get("error", {})
            raise RuntimeError(f"{method} {path}: {resp.status} {err.get('code')}: {err.get('message')}")
        return resp.status, payload
    finally:
        conn.close()


def announce(revision, config):
    line = json.dumps(config, sort_keys=True, separators=(",", ":"))
    print(f"loaded revision={revision} pid={os.getpid()} config={line}", flush=True)


def follow_agent(args, stop):
    """Reads the key, then long-polls for each newer revision until stopped."""
    _, view = agent_request(args.socket, "GET", f"/v1/config/{args.key}")
    announce(view["revision"], view["value"])
    revision = view["revision"]
    while not stop.is_set():
        try:
            status, view = agent_request(
                args.socket, "GET", f"/v1/config/{args.key}?wait={revision}&timeout=30", timeout=40
            )
        except (OSError, RuntimeError) as err:  # agent restarting: try again shortly
            print(f"agent not answering: {err}", file=sys.stderr, flush=True)
            stop.wait(1)
            continue
        if status == 200:
            revision = view["revision"]
            announce(revision, view["value"])


def beat_through_agent(args, stop):
    body = {"node": args.node, "intervalMs": 1000, "serviceName": "python-service", "pid": os.getpid()}
    while not stop.wait(1.0):
        try:
            agent_request(args.socket, "POST", "/v1/heartbeat", body)
        except (OSError, RuntimeError) as err:
            print(f"heartbeat not relayed: {err}", file=sys.stderr, flush=True)
    try:
        agent_request(args.socket, "POST", "/v1/heartbeat", {**body, "leaving": True})
    except (OSError, RuntimeError) as err:
        print(f"leaving heartbeat not relayed: {err}", file=sys.stderr, flush=True)


def run_on_file(path, stop):
    """Loads the rendered file, and again on each SIGHUP."""
    reload = threading.Event()
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    reload.set()
    while not stop.is_set():
        if reload.is_set():
            reload.clear()
            with open(path, encoding="utf-8") as f:
                announce("file", json.load(f))
        stop.wait(0.05)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--socket", help="Unix socket of a kon agent")
    p.add_argument("--key", help="config key to read through the agent")
    p.add_argument("--node", help="node id to beat as, through the agent")
    p.add_argument("--file", help="config file rendered by `kon run --render`")
    args = p.parse_args()
    if bool(args.file) == bool(args.socket and args.key):
        p.error("give --file FILE, or --socket PATH with --key KEY")

    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    if args.file:
        run_on_file(args.file, stop)
        return 0
    beater = threading.Thread(target=beat_through_agent, args=(args, stop), daemon=True)
    if args.node:
        beater.start()
    worker = threading.Thread(target=follow_agent, args=(args, stop), daemon=True)
    worker.start()
    while not stop.is_set() and worker.is_alive():
        stop.wait(0.2)
    clean = stop.is_set()
    stop.set()
    if args.node:
        beater.join(timeout=3)  # its leaving beat: node.left rather than node.down
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
