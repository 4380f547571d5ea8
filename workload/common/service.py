"""A small JSON-over-HTTP service: routes, /health, JSON logs, graceful SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
                 "level": record.levelname, "service": self.service, "message": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry)


def json_logger(service: str) -> logging.Logger:
    logger = logging.getLogger(service)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter(service))
        logger.addHandler(handler)
        logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
        logger.propagate = False
    return logger


class UpstreamError(RuntimeError):
    """The next service did not answer; the caller gets 502."""


def call(endpoint: str, path: str, payload: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    request = urllib.request.Request(f"{endpoint.rstrip('/')}{path}", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured endpoint)
            return json.loads(response.read())
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        raise UpstreamError(f"{endpoint}{path}: {exc}") from exc


class Service:
    def __init__(self, name: str, port: int, routes: dict[str, Handler], info: Callable[[], dict] | None = None):
        self.name, self.port, self.routes = name, port, routes
        self.info = info or (lambda: {})
        self.log = json_logger(name)
        self.server: ThreadingHTTPServer | None = None

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class RequestHandler(BaseHTTPRequestHandler):
            server_version = service.name

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
                service.log.info(format % args, extra={"fields": {"client": self.client_address[0]}})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (stdlib name)
                if self.path == "/health":
                    self._send(HTTPStatus.OK, {"status": "ok", "service": service.name, **service.info()})
                else:
                    self._send(HTTPStatus.NOT_FOUND, {"error": f"no route GET {self.path}"})

            def do_POST(self) -> None:  # noqa: N802 (stdlib name)
                route = service.routes.get(self.path)
                if route is None:
                    self._send(HTTPStatus.NOT_FOUND, {"error": f"no route POST {self.path}"})
                    return
                try:
                    length = int(self.headers.get("Content-Length", "0"))
                    payload = json.loads(self.rfile.read(length) or b"{}")
                    if not isinstance(payload, dict):
                        raise ValueError("the body must be a JSON object")
                except ValueError as exc:
                    self._send(HTTPStatus.BAD_REQUEST, {"error": f"bad request: {exc}"})
                    return
                try:
                    self._send(HTTPStatus.OK, route(payload))
                except UpstreamError as exc:
                    service.log.error("upstream failed", extra={"fields": {"error": str(exc)}})
                    self._send(HTTPStatus.BAD_GATEWAY, {"error": str(exc)})
                except ValueError as exc:
                    self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

        return RequestHandler

    def start(self, host: str = "0.0.0.0") -> ThreadingHTTPServer:  # noqa: S104 (a container listens on all)
        self.server = ThreadingHTTPServer((host, self.port), self.handler_class())
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.log.info("listening", extra={"fields": {"port": self.port}})
        return self.server

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.log.info("stopped")

    def run_forever(self) -> None:
        """Serve until SIGTERM or SIGINT, then finish in-flight requests and exit 0."""
        stopping = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.set())
        self.start()
        stopping.wait()
        self.log.info("shutting down")
        self.stop()
