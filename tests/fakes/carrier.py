"""A fake carrier rate API over real HTTP: it replays a recorded exchange, or is slow,
failing, flapping or malformed, as a test says.

`behaviour` is read on each request: `replay` answers the recording's response (and keeps
the request for the test to compare), `slow` holds the request for `delay_s` (20 s by
default, released at `stop()`), `fail` answers 503, `malformed` a 200 without rates,
`flap` alternates failure and the recording, starting with a failure.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).parent / "recordings"


def recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS / f"{name}.json").read_text())
    return data


class FakeCarrier:
    def __init__(self, exchange: str = "shippo_create_shipment") -> None:
        self.exchange = recording(exchange)
        self.behaviour = "replay"
        self.delay_s = 20.0
        self.requests: list[dict[str, Any]] = []
        self._released = threading.Event()
        self._flap = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                behaviour = fake.behaviour
                if behaviour == "flap":
                    fake._flap += 1
                    behaviour = "fail" if fake._flap % 2 else "replay"
                if behaviour == "slow":
                    fake._released.wait(fake.delay_s)
                    behaviour = "replay"
                if behaviour == "fail":
                    self._send(503, {"detail": "Service Unavailable"})
                elif behaviour == "malformed":
                    self._send(200, {"object_id": "x", "status": "SUCCESS"})
                else:
                    response = fake.exchange["response"]
                    self._send(response["status"], response["body"])

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeCarrier:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
