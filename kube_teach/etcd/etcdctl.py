"""`etcdctl` against the simulated cluster: parse a command line, make the calls through an
EtcdClient, and return what etcdctl 3.4 prints (stdout, or `Error: ...` as it reports failures).

Semantics: etcdctl/ctlv3 3.4 commands put, get, del, txn, compaction, defrag, alarm, endpoint
status, snapshot save/restore, member list/add/remove/promote, lease and move-leader, with its
default `--command-timeout=5s`. Files are kept in a dict standing for the working directory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import EtcdError
from .etcdctl_print import (
    dumps,
    go_json,
    humanize_bytes,
    kv_lines,
    simple_del,
    simple_put,
    simple_txn,
    table,
)
from .etcdctl_syntax import (
    UsageError,
    argify,
    delete_request,
    get_request,
    parse_flags,
    parse_txn,
    put_request,
)
from .mvcc import VERSION
from .rpc import (
    ALARM,
    COMPACT,
    DEFRAGMENT,
    DELETE_RANGE,
    LEASE_GRANT,
    LEASE_LEASES,
    LEASE_REVOKE,
    LEASE_TIME_TO_LIVE,
    MEMBER_ADD,
    MEMBER_LIST,
    MEMBER_PROMOTE,
    MEMBER_REMOVE,
    MOVE_LEADER,
    PUT,
    RANGE,
    SNAPSHOT,
    STATUS,
    TXN,
)

if TYPE_CHECKING:
    from .client import EtcdClient
    from .cluster import EtcdCluster

GLOBAL_VALUE = {"endpoints", "write-out", "command-timeout", "dial-timeout"}
GLOBAL_BOOL = {"cluster", "hex", "debug"}
ALL_BOOL = GLOBAL_BOOL | {
    "prefix",
    "from-key",
    "keys-only",
    "print-value-only",
    "prev-kv",
    "ignore-value",
    "ignore-lease",
    "physical",
    "learner",
    "keys",
    "interactive",
}
ALL_VALUE = GLOBAL_VALUE | {
    "consistency",
    "limit",
    "order",
    "rev",
    "sort-by",
    "lease",
    "peer-urls",
    "data-dir",
    "name",
    "initial-cluster",
    "initial-cluster-token",
    "initial-advertise-peer-urls",
}


class Etcdctl:
    """Runs etcdctl command lines against one EtcdCluster."""

    def __init__(self, cluster: EtcdCluster) -> None:
        self.cluster = cluster
        self._clients: dict[tuple[str, ...], EtcdClient] = {}

    def __call__(self, command: str, stdin: str = "") -> str:
        try:
            return self._run(argify(command), stdin)
        except UsageError as e:
            return f"Error: {e}\n"
        except EtcdError as e:
            return f"Error: {e.message}\n"

    # -- plumbing ------------------------------------------------------------------------------
    def _run(self, argv: list[str], stdin: str) -> str:
        if argv and argv[0] == "etcdctl":
            argv = argv[1:]
        pos, flags = parse_flags(argv, ALL_BOOL, ALL_VALUE)
        if not pos:
            raise UsageError("no command given; try `etcdctl --help`")
        endpoints = str(flags.get("endpoints") or "")
        self.endpoints = (
            [e.strip() for e in endpoints.split(",") if e.strip()]
            if endpoints
            else [f"{name}:2379" for name in self.cluster.member_names()]
        )
        self.flags = flags
        self.out = str(flags.get("write-out", "simple"))
        self.timeout = str(flags.get("command-timeout", "5s"))
        # parse_flags already took the flags out, wherever they were on the line
        cmd, args = pos[0], pos[1:]
        handler = _COMMANDS.get(cmd)
        if handler is None:
            raise UsageError(f'unknown command "{cmd}" for "etcdctl"')
        return handler(self, args, stdin)

    def client(self, endpoints: list[str] | None = None) -> EtcdClient:
        eps = tuple(endpoints or self.endpoints)
        client = self._clients.get(eps)
        if client is None:
            name = f"etcdctl-{len(self._clients) + 1}"
            client = self.cluster.client(list(eps), name=name, timeout=self.timeout)
            self._clients[eps] = client
        client.timeout_ns = _ns(self.timeout)
        client.pinned = client.endpoints[0]  # a fresh etcdctl connects to the first endpoint
        return client

    def call(self, method: str, body: dict, *, endpoint: str | None = None) -> Any:
        client = self.client()
        return client.wait(client.call(method, body, endpoint=endpoint))

    def _flag(self, name: str) -> Any:
        return self.flags.get(name)

    # -- key-value -----------------------------------------------------------------------------
    def put(self, args: list[str], stdin: str) -> str:
        body, _ = put_request(
            self._rebuild(args, ["prev-kv", "ignore-value", "ignore-lease"], ["lease"])
        )
        resp = self.call(PUT, body)
        if self.out == "json":
            return dumps(go_json(resp)) + "\n"
        return _lines(simple_put(resp))

    def get(self, args: list[str], stdin: str) -> str:
        body, flags = get_request(
            self._rebuild(
                args,
                ["prefix", "from-key", "keys-only", "print-value-only"],
                ["consistency", "limit", "order", "rev", "sort-by"],
            )
        )
        resp = self.call(RANGE, body)
        if self.out == "json":
            return dumps(go_json(resp)) + "\n"
        return _lines(kv_lines(resp["kvs"], bool(flags.get("print-value-only"))))

    def delete(self, args: list[str], stdin: str) -> str:
        body, _ = delete_request(self._rebuild(args, ["prefix", "prev-kv", "from-key"], []))
        resp = self.call(DELETE_RANGE, body)
        if self.out == "json":
            return dumps(go_json(resp)) + "\n"
        return _lines(simple_del(resp))

    def txn(self, args: list[str], stdin: str) -> str:
        resp = self.call(TXN, parse_txn(stdin))
        if self.out == "json":
            return dumps(go_json(resp)) + "\n"
        return _lines(simple_txn(resp))

    def compaction(self, args: list[str], stdin: str) -> str:
        if len(args) != 1:
            raise UsageError("compaction command needs 1 argument")
        try:
            rev = int(args[0])
        except ValueError as e:
            raise UsageError(f'strconv.ParseInt: parsing "{args[0]}": invalid syntax') from e
        body: dict = {"revision": rev}
        if self._flag("physical"):
            body["physical"] = True
        self.call(COMPACT, body)
        return f"compacted revision {rev}\n"

    # -- maintenance ---------------------------------------------------------------------------
    def _cluster_endpoints(self) -> list[str]:
        if not self._flag("cluster"):
            return self.endpoints
        members = self.call(MEMBER_LIST, {})["members"]
        return [u for m in members for u in m.get("clientURLs", [])]

    def defrag(self, args: list[str], stdin: str) -> str:
        out, failed = [], None
        for ep in self._cluster_endpoints():
            try:
                self.call(DEFRAGMENT, {}, endpoint=ep)
                out.append(f"Finished defragmenting etcd member[{ep}]")
            except EtcdError as e:
                failed = f"Failed to defragment etcd member[{ep}] ({e.message})"
                out.append(failed)
        return _lines(out)

    def alarm(self, args: list[str], stdin: str) -> str:
        if not args or args[0] not in ("list", "disarm"):
            raise UsageError("alarm command needs a subcommand: list or disarm")
        listed = self.call(ALARM, {"action": "GET", "memberID": 0, "alarm": "NONE"})["alarms"]
        if args[0] == "disarm":
            done = []
            for a in listed:
                body = {"action": "DEACTIVATE", "memberID": a["memberID"], "alarm": a["alarm"]}
                done += self.call(ALARM, body)["alarms"]
            listed = done
        if self.out == "json":
            return dumps(go_json({"alarms": listed})) + "\n"
        return _lines([f"memberID:{a['memberID']} alarm:{a['alarm']} " for a in listed])

    def endpoint(self, args: list[str], stdin: str) -> str:
        if not args or args[0] != "status":
            raise UsageError("endpoint command needs a subcommand: status")
        rows, statuses, errors = [], [], []
        for ep in self._cluster_endpoints():
            try:
                s = self.call(STATUS, {}, endpoint=ep)
            except EtcdError as e:
                errors.append(f"Failed to get the status of endpoint {ep} ({e.message})")
                continue
            statuses.append({"Endpoint": ep, "Status": s})
            rows.append(
                [
                    ep,
                    f"{s['header']['member_id']:x}",
                    s["version"],
                    humanize_bytes(s["dbSize"]),
                    str(s["leader"] == s["header"]["member_id"]).lower(),
                    str(bool(s.get("isLearner"))).lower(),
                    str(s["raftTerm"]),
                    str(s["raftIndex"]),
                    str(s["raftAppliedIndex"]),
                    ", ".join(s.get("errors") or []),
                ]
            )
        head = [
            "ENDPOINT",
            "ID",
            "VERSION",
            "DB SIZE",
            "IS LEADER",
            "IS LEARNER",
            "RAFT TERM",
            "RAFT INDEX",
            "RAFT APPLIED INDEX",
            "ERRORS",
        ]
        if self.out == "json":
            text = dumps([go_json(s) for s in statuses]) + "\n"
        elif self.out == "table":
            text = table(head, rows)
        else:
            text = _lines([", ".join(r) for r in rows])
        return "".join(e + "\n" for e in errors) + text

    def snapshot(self, args: list[str], stdin: str) -> str:
        if len(args) != 2 or args[0] not in ("save", "restore"):
            raise UsageError("snapshot command needs a subcommand (save|restore) and a file")
        path = args[1]
        if args[0] == "save":
            if len(self.endpoints) != 1:
                eps = " ".join(self.endpoints)
                raise UsageError(
                    f"snapshot must be requested to one selected node, not multiple [{eps}]"
                )
            blob = self.call(SNAPSHOT, {}, endpoint=self.endpoints[0])["blob"]
            self.cluster.files[path] = blob
            return f"Snapshot saved at {path}\n"
        data = self.cluster.files.get(path)
        if data is None:
            raise UsageError(f"stat {path}: no such file or directory")
        self.cluster.restored = type(self.cluster).from_snapshot(
            data, members=len(self.cluster.member_names()), seed=f"{self.cluster.seed}/restored"
        )
        return ""  # etcdctl logs the restore on stderr only

    # -- cluster -------------------------------------------------------------------------------
    def member(self, args: list[str], stdin: str) -> str:
        if not args:
            raise UsageError("member command needs a subcommand: list, add, remove, promote")
        sub, rest = args[0], args[1:]
        if sub == "list":
            resp = self.call(MEMBER_LIST, {})
            if self.out == "json":
                return dumps(go_json(resp)) + "\n"
            rows = [_member_row(m) for m in resp["members"]]
            if self.out == "table":
                head = ["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"]
                return table(head, rows)
            return _lines([", ".join(r) for r in rows])
        if sub == "add":
            if len(rest) != 1:
                raise UsageError("member name not provided")
            urls = str(self._flag("peer-urls") or "")
            if not urls:
                raise UsageError("member peer urls not provided")
            body = {"peerURLs": urls.split(","), "isLearner": bool(self._flag("learner"))}
            resp = self.call(MEMBER_ADD, body)
            new_id = resp["member"]["ID"]
            conf = []
            for m in resp["members"]:
                for u in m["peerURLs"]:
                    conf.append(f"{rest[0] if m['ID'] == new_id else m['name']}={u}")
            self.cluster.pending_members[rest[0]] = new_id
            lines = [f"Member {new_id:16x} added to cluster {resp['header']['cluster_id']:16x}", ""]
            lines += [
                f'ETCD_NAME="{rest[0]}"',
                f'ETCD_INITIAL_CLUSTER="{",".join(conf)}"',
                f'ETCD_INITIAL_ADVERTISE_PEER_URLS="{urls}"',
                'ETCD_INITIAL_CLUSTER_STATE="existing"',
            ]
            return _lines(lines)
        if sub in ("remove", "promote"):
            if len(rest) != 1:
                raise UsageError("member ID is not provided")
            try:
                member_id = int(rest[0], 16)
            except ValueError as e:
                raise UsageError(f"bad member ID arg ({e}), expecting ID in Hex") from e
            if sub == "remove":
                resp = self.call(MEMBER_REMOVE, {"ID": member_id})
                return f"Member {member_id:16x} removed from cluster {resp['header']['cluster_id']:16x}\n"
            resp = self.call(MEMBER_PROMOTE, {"ID": member_id})
            return (
                f"Member {member_id:16x} promoted in cluster {resp['header']['cluster_id']:16x}\n"
            )
        raise UsageError(f'unknown command "{sub}" for "etcdctl member"')

    def lease(self, args: list[str], stdin: str) -> str:
        if not args:
            raise UsageError("lease command needs a subcommand")
        sub, rest = args[0], args[1:]
        if sub == "grant":
            resp = self.call(LEASE_GRANT, {"TTL": int(rest[0]), "ID": 0})
            return f"lease {resp['ID']:016x} granted with TTL({resp['TTL']}s)\n"
        if sub == "list":
            leases = self.call(LEASE_LEASES, {})["leases"]
            return _lines([f"found {len(leases)} leases"] + [f"{le['ID']:016x}" for le in leases])
        lease_id = int(rest[0], 16) if rest else 0
        if sub == "revoke":
            self.call(LEASE_REVOKE, {"ID": lease_id})
            return f"lease {lease_id:016x} revoked\n"
        if sub == "timetolive":
            resp = self.call(LEASE_TIME_TO_LIVE, {"ID": lease_id, "keys": bool(self._flag("keys"))})
            if resp["TTL"] == -1:
                return f"lease {lease_id:016x} already expired\n"
            text = f"lease {lease_id:016x} granted with TTL({resp['grantedTTL']}s), remaining({resp['TTL']}s)"
            if self._flag("keys"):
                text += f", attached keys({resp['keys']})"
            return text + "\n"
        raise UsageError(f'unknown command "{sub}" for "etcdctl lease"')

    def move_leader(self, args: list[str], stdin: str) -> str:
        target = int(args[0], 16)
        client = self.client()
        leader_ep = None
        for ep in self.endpoints:
            try:
                s = self.call(STATUS, {}, endpoint=ep)
            except EtcdError:
                continue
            if s["leader"] == s["header"]["member_id"]:
                leader_ep, lead = ep, s["leader"]
                break
        if leader_ep is None:
            raise UsageError("no leader endpoint given at [" + " ".join(self.endpoints) + "]")
        client.wait(client.call(MOVE_LEADER, {"targetID": target}, endpoint=leader_ep))
        return f"Leadership transferred from {lead:x} to {target:x}\n"

    def version(self, args: list[str], stdin: str) -> str:
        return f"etcdctl version: {VERSION}\nAPI version: 3.4\n"

    def _rebuild(self, args: list[str], bools: list[str], values: list[str]) -> list[str]:
        """Put the command's own flags (parsed with the global ones) back as arguments."""
        out = list(args)
        for name in bools:
            if self.flags.get(name):
                out.append(f"--{name}")
        for name in values:
            if name in self.flags:
                out.append(f"--{name}={self.flags[name]}")
        return out


def _member_row(m: dict) -> list[str]:
    started = "started" if m.get("name") else "unstarted"
    return [
        f"{m['ID']:x}",
        started,
        m.get("name", ""),
        ",".join(m.get("peerURLs") or []),
        ",".join(m.get("clientURLs") or []),
        str(bool(m.get("isLearner"))).lower(),
    ]


def _lines(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _ns(duration: str) -> int:
    from kube_teach.sim import to_ns

    return to_ns(duration)


_COMMANDS: dict[str, Callable[[Etcdctl, list[str], str], str]] = {
    "put": Etcdctl.put,
    "get": Etcdctl.get,
    "del": Etcdctl.delete,
    "txn": Etcdctl.txn,
    "compaction": Etcdctl.compaction,
    "defrag": Etcdctl.defrag,
    "alarm": Etcdctl.alarm,
    "endpoint": Etcdctl.endpoint,
    "snapshot": Etcdctl.snapshot,
    "member": Etcdctl.member,
    "lease": Etcdctl.lease,
    "move-leader": Etcdctl.move_leader,
    "version": Etcdctl.version,
}
