"""The tool server the stand-ins forward to: a loopback HTTP server in the local account's
process, so the stand-ins stay small (standard library only) and act on the emulated
account with its clients."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from shipline.local.standins.cli import Answer, Call

BIN = Path(__file__).resolve().parent / "bin"
Tool = Callable[[Call], Answer]


class ToolServer:
    """Serves `docker` and `aws` (and any tool given) for as long as it runs."""

    def __init__(self, tools: dict[str, Tool]):
        self.tools = tools
        tools_by_name = tools

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                call = Call(tuple(request["argv"]), Path(request["cwd"]), request["env"], request.get("stdin", ""))
                tool = tools_by_name.get(request["tool"])
                try:
                    answer = tool(call) if tool else Answer().fail(f"{request['tool']}: command not found", 127)
                except Exception as exc:  # a defect in the stand-in: say so, as a failed command
                    answer = Answer().fail(f"{request['tool']}: the local stand-in failed: {type(exc).__name__}: {exc}",
                                           70)
                body = json.dumps(answer.as_dict()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="shipline-tools", daemon=True)

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/"

    def __enter__(self) -> ToolServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
