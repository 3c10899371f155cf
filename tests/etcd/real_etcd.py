"""A real etcd 3.4 for differential tests: started on 127.0.0.1 with free ports and a temporary
data dir, spoken to over its v3 JSON gateway, stopped afterwards (also when a test fails).

Requests use the same dicts as `MVCCStore.handle` (`{"put": {"key": "a", "value": "1"}}`);
`RealEtcd.request` base64-encodes keys and values for the gateway and turns its proto3 JSON
(int64 as strings, zero fields left out) back into the shape `MVCCStore` answers with.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kube_teach.etcd.errors import GRPC_CODES
from kube_teach.etcd.mvcc_txn import to_bytes, to_text

ETCD_BIN = "/usr/bin/etcd"
GRPC_NAMES = {v: k for k, v in GRPC_CODES.items()}

PATHS = {
    "range": "kv/range",
    "put": "kv/put",
    "delete_range": "kv/deleterange",
    "txn": "kv/txn",
    "compaction": "kv/compaction",
    "lease_grant": "lease/grant",
    "lease_revoke": "lease/revoke",
    "lease_time_to_live": "lease/timetolive",
    "lease_leases": "lease/leases",
    "lease_keepalive": "lease/keepalive",
    "alarm": "maintenance/alarm",
    "status": "maintenance/status",
    "defragment": "maintenance/defragment",
}
_BYTES_FIELDS = ("key", "value", "range_end")


def etcd_missing_reason() -> str | None:
    """Why the differential tests cannot run here, or None if they can."""
    if not os.access(ETCD_BIN, os.X_OK):
        return f"{ETCD_BIN} not found: install Debian's etcd-server (3.4) to run differential tests"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def encode(obj: object) -> object:
    """A request with every key, value and range_end base64-encoded, as the gateway wants."""
    if isinstance(obj, dict):
        return {
            k: (base64.b64encode(to_bytes(v)).decode() if k in _BYTES_FIELDS else encode(v))
            for k, v in obj.items()
            if v is not None
        }
    if isinstance(obj, list):
        return [encode(v) for v in obj]
    return obj


def _text(b64: str | None) -> str:
    return to_text(base64.b64decode(b64 or ""))


def _header(h: dict | None) -> dict:
    return {"revision": int((h or {}).get("revision", 0))}


def _kv(kv: dict | None) -> dict | None:
    if kv is None:
        return None
    return {
        "key": _text(kv.get("key")),
        "create_revision": int(kv.get("create_revision", 0)),
        "mod_revision": int(kv.get("mod_revision", 0)),
        "version": int(kv.get("version", 0)),
        "value": _text(kv.get("value")),
        "lease": int(kv.get("lease", 0)),
    }


def _op(resp: dict) -> dict:
    for kind, body in resp.items():
        return {kind: normalize(kind.removeprefix("response_"), body)}
    return {}


def normalize(kind: str, resp: dict) -> dict:
    """A gateway response in `MVCCStore`'s shape (cluster/member IDs and raft term dropped)."""
    if "error" in resp and "code" in resp:
        return {"error": {"code": GRPC_NAMES[resp["code"]], "message": resp["message"]}}
    header = _header(resp.get("header"))
    if kind == "range":
        kvs = [_kv(kv) for kv in resp.get("kvs", [])]
        return {
            "header": header,
            "kvs": kvs,
            "more": bool(resp.get("more")),
            "count": int(resp.get("count", 0)),
        }
    if kind == "put":
        return {"header": header, "prev_kv": _kv(resp.get("prev_kv"))}
    if kind == "delete_range":
        prev = [_kv(kv) for kv in resp.get("prev_kvs", [])]
        return {"header": header, "deleted": int(resp.get("deleted", 0)), "prev_kvs": prev}
    if kind == "txn":
        responses = [_op(r) for r in resp.get("responses", [])]
        return {"header": header, "succeeded": bool(resp.get("succeeded")), "responses": responses}
    if kind in ("compaction", "lease_revoke"):
        return {"header": header}
    if kind == "lease_grant":
        return {"header": header, "ID": int(resp.get("ID", 0)), "TTL": int(resp.get("TTL", 0))}
    if kind == "lease_keepalive":
        return {"header": header, "ID": int(resp.get("ID", 0)), "TTL": int(resp.get("TTL", 0))}
    if kind == "lease_time_to_live":
        return {
            "header": header,
            "ID": int(resp.get("ID", 0)),
            "TTL": int(resp.get("TTL", 0)),
            "grantedTTL": int(resp.get("grantedTTL", 0)),
            "keys": sorted(_text(k) for k in resp.get("keys", [])),
        }
    if kind == "lease_leases":
        return {
            "header": header,
            "leases": [{"ID": int(le["ID"])} for le in resp.get("leases", [])],
        }
    if kind == "alarm":
        alarms = [
            {"memberID": int(a.get("memberID", 0)), "alarm": a.get("alarm", "NONE")}
            for a in resp.get("alarms", [])
        ]
        return {"alarms": alarms}
    if kind == "status":
        return {
            "header": header,
            "version": resp.get("version", ""),
            "dbSize": int(resp.get("dbSize", 0)),
            "dbSizeInUse": int(resp.get("dbSizeInUse", 0)),
            "errors": list(resp.get("errors", [])),
        }
    if kind == "defragment":
        return {}
    raise ValueError(f"unknown request kind {kind!r}")


def normalize_watch(resp: dict) -> dict:
    """A gateway watch response in `WatchHub`'s shape, without the watch ID (each HTTP watch is
    its own stream, so IDs restart at 0 there)."""
    events = [
        {"type": ev.get("type", "PUT"), "kv": _kv(ev.get("kv")), "prev_kv": _kv(ev.get("prev_kv"))}
        for ev in resp.get("events", [])
    ]
    return {
        "header": _header(resp.get("header")),
        "created": bool(resp.get("created")),
        "canceled": bool(resp.get("canceled")),
        "compact_revision": int(resp.get("compact_revision", 0)),
        "cancel_reason": resp.get("cancel_reason", ""),
        "events": events,
    }


class RealEtcd:
    """One etcd process. Use as a context manager, or `start()` and always `stop()`."""

    def __init__(self, data_dir: Path, *, quota_backend_bytes: int = 0) -> None:
        self.data_dir = Path(data_dir)
        self.quota_backend_bytes = quota_backend_bytes
        self.proc: subprocess.Popen | None = None
        self.client_port = 0
        self.member_id = 0
        self._log = None

    def __enter__(self) -> RealEtcd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout_s: float = 20.0) -> None:
        """Start etcd and wait (bounded) until it answers a status request."""
        self.client_port, peer_port = _free_port(), _free_port()
        client = f"http://127.0.0.1:{self.client_port}"
        peer = f"http://127.0.0.1:{peer_port}"
        args = [
            ETCD_BIN,
            "--name=kube-teach",
            f"--data-dir={self.data_dir / 'member-data'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=kube-teach={peer}",
            "--initial-cluster-state=new",
            f"--quota-backend-bytes={self.quota_backend_bytes}",
            "--auto-compaction-retention=0",
            "--logger=zap",
            "--log-outputs=stderr",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.data_dir / "etcd.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                status = self.call("maintenance/status", {}, timeout_s=1.0)
                if status.get("leader"):
                    self.member_id = int(status["header"]["member_id"])
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"etcd did not become ready in {timeout_s}s: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s). Safe to call twice."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, n: int = 2000) -> str:
        path = self.data_dir / "etcd.log"
        return path.read_text(errors="replace")[-n:] if path.exists() else ""

    # --- talking to it ---------------------------------------------------------------------------

    def call(self, path: str, body: dict, timeout_s: float = 10.0) -> dict:
        """POST JSON to `/v3/<path>` and return the decoded JSON (errors included)."""
        url = f"http://127.0.0.1:{self.client_port}/v3/{path}"
        data = json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            return json.loads(err.read() or b"{}")

    def request(self, request: dict) -> dict:
        """Send one `{kind: body}` request; the response in `MVCCStore`'s shape."""
        ((kind, body),) = request.items()
        if kind == "lease_keepalive":
            got = self._stream("lease/keepalive", encode(body), 1)
            resp = got[0].get("result", got[0]) if got else {}
        else:
            resp = self.call(PATHS[kind], encode(body or {}))
        return normalize(kind, resp)

    def watch(self, create_request: dict, responses: int, timeout_s: float = 2.0) -> list[dict]:
        """Open a watch, read up to `responses` responses (the first is `created`) or until
        `timeout_s` passes, close it. Each response as the gateway sends it (`result` unwrapped)."""
        got = self._stream(
            "watch", {"create_request": encode(create_request)}, responses, timeout_s
        )
        return [r.get("result", r) for r in got]

    def _stream(self, path: str, body: object, n: int, timeout_s: float = 2.0) -> list[dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.client_port, timeout=timeout_s)
        out: list[dict] = []
        try:
            conn.request("POST", f"/v3/{path}", body=json.dumps(body))
            resp = conn.getresponse()
            buf = b""
            deadline = time.monotonic() + timeout_s
            while len(out) < n and time.monotonic() < deadline:
                try:
                    chunk = resp.read1(65536)
                except TimeoutError:
                    break
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf and len(out) < n:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        out.append(json.loads(line))
        finally:
            conn.close()
        return out


@pytest.fixture
def real_etcd_factory(tmp_path):
    """Start real etcd servers (`factory(quota_backend_bytes=...)`); all stopped at teardown."""
    reason = etcd_missing_reason()
    if reason:
        pytest.skip(reason)
    started: list[RealEtcd] = []

    def start(**kwargs: int) -> RealEtcd:
        server = RealEtcd(tmp_path / f"etcd-{len(started)}", **kwargs)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
        for server in started:
            shutil.rmtree(server.data_dir, ignore_errors=True)
