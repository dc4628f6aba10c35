#!/usr/bin/python3
"""A fake Anthropic Messages API for driving the real `claude` CLI offline.

Loopback only. Replies are scripted by keywords, one per line, in the prompt
of the current turn (see docs in /work/shared/notes/claude-cli.md, section 2):

  WRITE <relpath> <content...>   Write tool_use for <cwd>/<relpath>
  RUNBASH <cmd...>               Bash tool_use
  CALLTOOL <name> <json>         a tool_use of any tool (MCP: mcp__s__t)
  TOKENS <in> <out> [cache_read] [cache_write]   usage of every answer
  FAIL <status> [count]          answer HTTP <status> (first count times)
  SLOW <seconds>                 sleep before answering
  SAY <text...>                  answer text instead of "ok."

The answer to a tool_result is "done." (end_turn). Requests without `tools`
(side requests such as titles) get a short text, usage 10/5. Tests can
also queue replies per session: fake.queue(session, {"status": 500}).

Run as a program: prints "PORT <n>" then serves until SIGTERM/SIGINT;
--log FILE appends one JSON line per request.
"""
import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_MODEL = "claude-opus-4-8"
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens",
              "cache_read_input_tokens")
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error",
               413: "request_too_large", 429: "rate_limit_error",
               500: "api_error", 529: "overloaded_error"}
REMINDER = "<system-reminder>"


# -- reading a request ---------------------------------------------------

def _texts(content):
    """Text of a message content (a string or a list of blocks)."""
    if isinstance(content, str):
        return [content]
    return [b.get("text", "") for b in content or ()
            if isinstance(b, dict) and b.get("type") == "text"]


def _has_tool_result(content):
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result"
        for b in content)


def _prompt_of(content):
    """The user's prompt in a message: its last text block that is not a
    <system-reminder> the CLI injected; None if there is none."""
    for t in reversed(_texts(content)):
        if not t.lstrip().startswith(REMINDER):
            return t
    return None


def turn_prompt(body):
    """(prompt, follow_up): the prompt that started the current turn, and
    whether the last user message is a tool_result (a later step of it).
    `messages` may hold role "system" entries, so look for role "user"."""
    users = [m for m in body.get("messages") or ()
             if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        return "", False
    follow_up = _has_tool_result(users[-1].get("content"))
    for m in reversed(users):
        c = m.get("content")
        if _has_tool_result(c):
            continue
        p = _prompt_of(c)
        if p is not None:
            return p, follow_up
    return "", follow_up


def cwd_of(body):
    """The agent's cwd from the system prompt line 'Primary working
    directory: <cwd>' (system is a string or an array of text blocks)."""
    for t in _texts(body.get("system")):
        for line in t.splitlines():
            line = line.strip().lstrip("-* ")
            if line.startswith("Primary working directory:"):
                return line.split(":", 1)[1].strip()
    return os.getcwd()


def parse_keywords(prompt):
    """Keyword lines of a prompt -> a script dict."""
    s = {"actions": [], "tokens": None, "fail": None, "slow": 0.0,
         "say": None}
    for line in prompt.splitlines():
        word, _, rest = line.strip().partition(" ")
        args = rest.split()
        try:
            if word == "WRITE" and args:
                path = args[0]
                content = rest.strip()[len(path):].lstrip(" ")
                s["actions"].append(("Write", path, content + "\n"))
            elif word == "RUNBASH" and rest.strip():
                s["actions"].append(("Bash", rest.strip()))
            elif word == "CALLTOOL" and args:
                name = args[0]
                raw = rest.strip()[len(name):].strip() or "{}"
                s["actions"].append(("Call", name, json.loads(raw)))
            elif word == "TOKENS" and len(args) >= 2:
                n = [int(a) for a in args[:4]] + [0, 0]
                s["tokens"] = dict(zip(
                    ("input_tokens", "output_tokens",
                     "cache_read_input_tokens",
                     "cache_creation_input_tokens"), n))
            elif word == "FAIL" and args:
                s["fail"] = (int(args[0]),
                             int(args[1]) if len(args) > 1 else None)
            elif word == "SLOW" and args:
                s["slow"] = float(args[0])
            elif word == "SAY":
                s["say"] = rest.strip()
        except ValueError:
            pass  # a malformed keyword line is just prompt text
    return s


# -- writing an answer -----------------------------------------------------

def _event(name, data):
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def sse_message(msg_id, model, blocks, stop_reason, usage):
    """SSE body of one streamed message. blocks: ("text", str) or
    ("tool_use", id, name, input). Input and cache tokens go in
    message_start, output tokens in message_delta, as the CLI reads them."""
    start_usage = {k: usage[k] for k in USAGE_KEYS}
    start_usage["output_tokens"] = 1
    out = [_event("message_start", {"type": "message_start", "message": {
        "id": msg_id, "type": "message", "role": "assistant",
        "model": model, "content": [], "stop_reason": None,
        "stop_sequence": None, "usage": start_usage}})]
    for i, b in enumerate(blocks):
        if b[0] == "text":
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": b[1]}
        else:
            start = {"type": "tool_use", "id": b[1], "name": b[2],
                     "input": {}}
            # the whole input in one delta: the verified shape
            delta = {"type": "input_json_delta",
                     "partial_json": json.dumps(b[3])}
        out.append(_event("content_block_start", {
            "type": "content_block_start", "index": i,
            "content_block": start}))
        out.append(_event("content_block_delta", {
            "type": "content_block_delta", "index": i, "delta": delta}))
        out.append(_event("content_block_stop", {
            "type": "content_block_stop", "index": i}))
    out.append(_event("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": usage["output_tokens"]}}))
    out.append(_event("message_stop", {"type": "message_stop"}))
    return "".join(out).encode()


def error_body(status, message=None):
    return json.dumps({"type": "error", "error": {
        "type": ERROR_TYPES.get(status, "api_error"),
        "message": message or f"fake failure {status}"}}).encode()


# -- the server ------------------------------------------------------------

class FakeAPI:
    """Fake Messages API on 127.0.0.1. start() serves in a daemon thread."""

    def __init__(self, port=0, log=None):
        self._want_port = port
        self._log_path = log
        self._lock = threading.Condition()
        self._requests = []
        self._queues = {}      # session (None: any) -> [reply dict]
        self._fails = {}       # (session, prompt) -> failures answered
        self._ids = 0
        self._conns = set()
        self._server = None
        self._thread = None
        self.port = None

    # public API
    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self):
        """A snapshot of the recorded requests, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, session):
        return [r for r in self.requests if r["session"] == session]

    def usage_for(self, session):
        """Summed usage of the session's successful main-loop answers:
        what the CLI's result line reports as `usage`."""
        tot = dict.fromkeys(USAGE_KEYS, 0)
        for r in self.requests_for(session):
            if r["main"] and r["status"] == 200:
                for k in USAGE_KEYS:
                    tot[k] += r["usage"][k]
        return tot

    def wait_requests(self, n, session=None, timeout=20):
        """Block until at least n requests (of `session` if given) were
        recorded; return them. Raises TimeoutError."""
        def mine():
            return [r for r in self._requests
                    if session is None or r["session"] == session]
        with self._lock:
            if not self._lock.wait_for(lambda: len(mine()) >= n, timeout):
                raise TimeoutError(
                    f"fakeapi: {len(mine())} of {n} requests after "
                    f"{timeout}s (session {session})")
            return mine()

    def queue(self, session, reply):
        """Queue a reply for the next main-loop request of `session`
        (None: any session). Keys: status, message, text, tool + input,
        input_tokens, output_tokens, cache_read_input_tokens,
        cache_creation_input_tokens, slow, retry_after."""
        with self._lock:
            self._queues.setdefault(session, []).append(dict(reply))

    def start(self):
        fake = self

        class Handler(_Handler):
            api = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", self._want_port),
                                           Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="fakeapi", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if not self._server:
            return
        self._server.shutdown()
        self._server.server_close()
        # keep-alive connections would leave handler threads blocked
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # internals
    def _next_id(self):
        with self._lock:
            self._ids += 1
            return self._ids

    def _take_queued(self, session):
        with self._lock:
            for key in (session, None):
                q = self._queues.get(key)
                if q:
                    return q.pop(0)
        return None

    def _should_fail(self, session, prompt, count):
        with self._lock:
            key = (session, prompt)
            n = self._fails.get(key, 0)
            if count is not None and n >= count:
                return False
            self._fails[key] = n + 1
            return True

    def _record(self, rec):
        with self._lock:
            self._requests.append(rec)
            self._lock.notify_all()
        if self._log_path:
            line = {k: rec[k] for k in ("time", "path", "session", "main",
                                        "status", "usage")}
            line["model"] = rec["body"].get("model") \
                if isinstance(rec["body"], dict) else None
            line["prompt"] = rec["prompt"][:200]
            with self._lock, open(self._log_path, "a") as f:
                f.write(json.dumps(line) + "\n")

    def plan(self, path, body, session):
        """Decide the answer: (status, headers, payload, usage, slow)."""
        if path.split("?")[0].endswith("/count_tokens"):
            return 200, {}, json.dumps({"input_tokens": 1000}).encode(), \
                None, 0.0
        main = bool(body.get("tools"))
        model = body.get("model") or DEFAULT_MODEL
        prompt, follow_up = turn_prompt(body)
        usage = {"input_tokens": 1000, "output_tokens": 200,
                 "cache_read_input_tokens": 0,
                 "cache_creation_input_tokens": 0}
        blocks, slow = [], 0.0
        if not main:
            usage.update(input_tokens=10, output_tokens=5)
            blocks.append(("text", "ok."))
        elif (q := self._take_queued(session)) is not None:
            usage.update({k: q[k] for k in USAGE_KEYS if k in q})
            slow = float(q.get("slow", 0))
            status = int(q.get("status", 200))
            if status != 200:
                return self._error(status, q.get("message"),
                                   q.get("retry_after"), slow)
            if "text" in q or "tool" not in q:
                blocks.append(("text", q.get("text", "ok.")))
            if "tool" in q:
                blocks.append(("tool_use", f"toolu_{self._next_id()}",
                               q["tool"], q.get("input", {})))
        else:
            s = parse_keywords(prompt)
            if s["tokens"]:
                usage.update(s["tokens"])
            slow = s["slow"]
            if s["fail"] and self._should_fail(session, prompt,
                                               s["fail"][1]):
                return self._error(s["fail"][0], None, None, slow)
            if follow_up:
                blocks.append(("text", "done."))
            else:
                if s["say"] is not None or not s["actions"]:
                    blocks.append(("text", s["say"] if s["say"] is not None
                                   else "ok."))
                cwd = cwd_of(body) if s["actions"] else ""
                for a in s["actions"]:
                    name = a[0]
                    if a[0] == "Write":
                        inp = {"file_path": os.path.join(cwd, a[1]),
                               "content": a[2]}
                    elif a[0] == "Call":
                        name, inp = a[1], a[2]
                    else:
                        inp = {"command": a[1], "description": "run it"}
                    blocks.append(("tool_use", f"toolu_{self._next_id()}",
                                   name, inp))
        stop = "tool_use" if any(b[0] == "tool_use" for b in blocks) \
            else "end_turn"
        payload = sse_message(f"msg_{self._next_id()}", model, blocks, stop,
                              usage)
        return 200, {"Content-Type": "text/event-stream",
                     "Cache-Control": "no-cache"}, payload, usage, slow

    @staticmethod
    def _error(status, message, retry_after, slow):
        headers = {"Content-Type": "application/json"}
        if status == 429:
            # the CLI honours retry-after (note section 9); 0 keeps tests fast
            headers["retry-after"] = str(0 if retry_after is None
                                         else retry_after)
        return status, headers, error_body(status, message), None, slow


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the CLI expects
    api = None  # set by FakeAPI.start()

    def setup(self):
        super().setup()
        with self.api._lock:
            self.api._conns.add(self.connection)

    def finish(self):
        with self.api._lock:
            self.api._conns.discard(self.connection)
        super().finish()

    def log_message(self, *args):
        pass  # quiet: tests read fake.requests instead

    def _send(self, status, headers, payload, body=True):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "keep-alive")
        self.end_headers()
        if body:
            self.wfile.write(payload)
        self.wfile.flush()

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if size == 0:
                    break
                data += chunk
            return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        self._send(200, {"Content-Type": "application/json"}, b"{}")

    def do_HEAD(self):
        self._send(200, {"Content-Type": "application/json"}, b"{}",
                   body=False)

    def do_POST(self):
        raw = self._read_body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        session = headers.get("x-claude-code-session-id")
        if not isinstance(body, dict):
            status, hdrs, payload, usage, slow = 400, {
                "Content-Type": "application/json"}, error_body(
                    400, "fakeapi: body is not a JSON object"), None, 0.0
            body = {"raw": raw.decode("utf-8", "replace")}
        else:
            status, hdrs, payload, usage, slow = self.api.plan(
                self.path, body, session)
        self.api._record({
            "time": time.time(), "path": self.path, "headers": headers,
            "body": body, "session": session,
            "main": bool(body.get("tools")) and "count_tokens" not in
            self.path,
            "prompt": turn_prompt(body)[0], "status": status,
            "usage": usage})
        # recorded first, so a test can see a SLOW request in flight
        if slow > 0:
            time.sleep(slow)
        self._send(status, hdrs, payload)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", help="append one JSON line per request")
    a = ap.parse_args(argv)
    fake = FakeAPI(a.port, a.log).start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(f"PORT {fake.port}", flush=True)
    while not done.wait(0.5):  # a timed wait lets signal handlers run
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
