"""An HTTP/1.1 proxy that injects faults at a fixed rate, for the provider
fault campaign: one request in `every` gets the next fault of a fixed cycle

- `500`, `502`, `503`: answered by the proxy, the server never sees it;
- `reset`: the connection is reset (RST) before the request is forwarded;
- `reset-after`: forwarded, the server acts on it, then the client's
  connection is reset before the answer (the worst case for a create:
  done on the server, failed for the client);
- `timeout`: no answer for `hang` seconds (beyond the client's timeout),
  then the connection is closed; the server never sees it.

The emulators' own fault layers answer a given status to the next N
matching requests; this proxy adds a rate and the two transport faults
without touching them. Requests under `/_emulator/` pass untouched;
`GET /_proxy/stats` answers the counts (JSON). `log` (a list, when
given) receives one line per request: time, method, path, the fault given
(`-` for none), the upstream status, and the body of writes, so a failed
run can be read back request by request.

As a program (for tests in other languages): `fault_proxy.py UPSTREAM_PORT
EVERY [HANG]` prints its port on the first line of stdout and serves until
killed.
"""

import http.client
import json
import sys
import http.server
import socket
import struct
import threading
import time

CYCLE = ["500", "reset", "502", "timeout", "503", "reset-after"]


class FaultProxy:
    def __init__(self, upstream_port, every, hang=3.0, log=None):
        self.log = log
        self.upstream = ("127.0.0.1", upstream_port)
        self.every = every
        self.hang = hang
        self.lock = threading.Lock()
        self.requests = 0
        self.injected = {k: 0 for k in CYCLE}
        self.enabled = True
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reset(self):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()

            def relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                if self.path == "/_proxy/stats":
                    data = json.dumps({"requests": proxy.requests, "injected": proxy.injected,
                                       "total": proxy.total()}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                fault = proxy.next_fault(self.path)
                started = time.time()

                def note(status):
                    if proxy.log is not None and not self.path.startswith("/_emulator/"):
                        sent = body.decode(errors="replace") if self.command != "GET" else ""
                        proxy.log.append(f"{started:.3f} {time.time():.3f} {self.command} "
                                         f"{self.path} fault={fault or '-'} status={status}"
                                         f" {sent}")

                if fault in ("500", "502", "503"):
                    note(fault)
                    data = b'{"detail": "injected fault"}'
                    self.send_response(int(fault))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if fault == "reset":
                    note("-")
                    return self.reset()
                if fault == "timeout":
                    note("-")
                    time.sleep(proxy.hang)
                    self.close_connection = True
                    return
                c = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "keep-alive")}
                c.request(self.command, self.path, body, headers)
                r = c.getresponse()
                data = r.read()
                c.close()
                note(r.status)
                if fault == "reset-after":
                    return self.reset()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length",
                                         "date", "server", "keep-alive"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next_fault(self, path):
        if path.startswith("/_emulator/"):
            return None
        with self.lock:
            self.requests += 1
            if not self.enabled or self.requests % self.every:
                return None
            fault = CYCLE[(self.requests // self.every) % len(CYCLE)]
            self.injected[fault] += 1
            return fault

    def total(self):
        return sum(self.injected.values())

    def close(self):
        self.server.shutdown()


if __name__ == "__main__":
    p = FaultProxy(int(sys.argv[1]), int(sys.argv[2]),
                   float(sys.argv[3]) if len(sys.argv) > 3 else 3.0)
    print(p.port, flush=True)
    threading.Event().wait()
