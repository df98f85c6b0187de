#!/usr/bin/env python3
"""Loopback HTTP backends for every endpoint of an ayadns config, in one process.

    backends.py CONFIG.toml CONTROL_DIR

Reads every `check` URL of every [[pool.endpoint]] in CONFIG (a string, or a table with `url`),
and serves each URL's host:port (http only, loopback only) from one thread per port. A request
answers 200 "ok" while the backend is up and 503 "down" while the file CONTROL_DIR/down/PORT
exists: that is how scripts/e2e.sh fails a backend on command (`touch`) and brings it back
(`rm`). Prints `listening PORT` for each port, then `ready`, and serves until killed.
"""

import http.server
import ipaddress
import os
import socketserver
import sys
import threading
import tomllib
import urllib.parse


def check_urls(config):
    for pool in config.get("pool", []):
        for ep in pool.get("endpoint", []):
            check = ep.get("check")
            if isinstance(check, dict):
                check = check.get("url")
            if check:
                yield ep["name"], check


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def handler_for(port, down_dir):
    marker = os.path.join(down_dir, str(port))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            down = os.path.exists(marker)
            body = b"down\n" if down else b"ok\n"
            self.send_response(503 if down else 200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    return Handler


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        config = tomllib.load(f)
    down_dir = os.path.join(sys.argv[2], "down")
    os.makedirs(down_dir, exist_ok=True)
    addrs = {}
    for name, url in check_urls(config):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http" or u.port is None:
            sys.exit(f"endpoint {name}: check {url}: only http://HOST:PORT/ URLs are served")
        if not ipaddress.ip_address(u.hostname).is_loopback:
            sys.exit(f"endpoint {name}: check {url}: not a loopback address")
        addrs[(u.hostname, u.port)] = name
    if not addrs:
        sys.exit("no endpoint with an http check in " + sys.argv[1])
    for (host, port), name in sorted(addrs.items(), key=lambda kv: kv[0][1]):
        srv = Server((host, port), handler_for(port, down_dir))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        print(f"listening {host}:{port} {name}", flush=True)
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
