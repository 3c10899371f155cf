"""etcd's error texts, and `EtcdError`, which carries one with its gRPC status code.

Semantics: etcd 3.4's api/v3rpc/rpctypes/error.go. A client sees the message exactly as listed
here (the `etcdserver: ` prefix is part of it) together with the gRPC code named beside it.
"""

from __future__ import annotations

# gRPC status codes by name, as google.golang.org/grpc/codes numbers them.
GRPC_CODES: dict[str, int] = {
    "OK": 0,
    "Canceled": 1,
    "Unknown": 2,
    "InvalidArgument": 3,
    "DeadlineExceeded": 4,
    "NotFound": 5,
    "AlreadyExists": 6,
    "PermissionDenied": 7,
    "ResourceExhausted": 8,
    "FailedPrecondition": 9,
    "Aborted": 10,
    "OutOfRange": 11,
    "Unimplemented": 12,
    "Internal": 13,
    "Unavailable": 14,
    "DataLoss": 15,
    "Unauthenticated": 16,
}

# --- key-value requests -------------------------------------------------------------------------
ERR_EMPTY_KEY = "etcdserver: key is not provided"
ERR_KEY_NOT_FOUND = "etcdserver: key not found"
ERR_VALUE_PROVIDED = "etcdserver: value is provided"
ERR_LEASE_PROVIDED = "etcdserver: lease is provided"
ERR_TOO_MANY_OPS = "etcdserver: too many operations in txn request"
ERR_DUPLICATE_KEY = "etcdserver: duplicate key given in txn request"
ERR_COMPACTED = "etcdserver: mvcc: required revision has been compacted"
ERR_FUTURE_REV = "etcdserver: mvcc: required revision is a future revision"
ERR_NO_SPACE = "etcdserver: mvcc: database space exceeded"

# --- leases -------------------------------------------------------------------------------------
ERR_LEASE_NOT_FOUND = "etcdserver: requested lease not found"
ERR_LEASE_EXIST = "etcdserver: lease already exists"
ERR_LEASE_TTL_TOO_LARGE = "etcdserver: too large lease TTL"
# Internal to the lessor: a keepalive reached a member that is not the leader. etcd forwards the
# request to the leader instead of showing this; if it ever escaped it would be code Unknown.
ERR_NOT_PRIMARY = "not a primary lessor"

# --- watch --------------------------------------------------------------------------------------
ERR_WATCH_CANCELED = "etcdserver: watch canceled"

# --- members ------------------------------------------------------------------------------------
ERR_MEMBER_EXIST = "etcdserver: member ID already exist"
ERR_PEER_URL_EXIST = "etcdserver: Peer URLs already exists"
ERR_MEMBER_NOT_ENOUGH_STARTED = (
    "etcdserver: re-configuration failed due to not enough started members"
)
ERR_MEMBER_BAD_URLS = "etcdserver: given member URLs are invalid"
ERR_MEMBER_NOT_FOUND = "etcdserver: member not found"
ERR_MEMBER_NOT_LEARNER = "etcdserver: can only promote a learner member"
ERR_LEARNER_NOT_READY = "etcdserver: can only promote a learner member which is in sync with leader"
ERR_TOO_MANY_LEARNERS = "etcdserver: too many learner members in cluster"

# --- server -------------------------------------------------------------------------------------
ERR_REQUEST_TOO_LARGE = "etcdserver: request is too large"
ERR_TOO_MANY_REQUESTS = "etcdserver: too many requests"
ERR_NO_LEADER = "etcdserver: no leader"
ERR_NOT_LEADER = "etcdserver: not leader"
ERR_LEADER_CHANGED = "etcdserver: leader changed"
ERR_NOT_CAPABLE = "etcdserver: not capable"
ERR_STOPPED = "etcdserver: server stopped"
ERR_TIMEOUT = "etcdserver: request timed out"
ERR_TIMEOUT_DUE_TO_LEADER_FAIL = (
    "etcdserver: request timed out, possibly due to previous leader failure"
)
ERR_TIMEOUT_DUE_TO_CONNECTION_LOST = (
    "etcdserver: request timed out, possibly due to connection lost"
)
ERR_TIMEOUT_WAIT_APPLIED_INDEX = (
    "etcdserver: request timed out, waiting for the applied index took too long"
)
ERR_UNHEALTHY = "etcdserver: unhealthy cluster"
ERR_CORRUPT = "etcdserver: corrupt cluster"
ERR_NOT_SUPPORTED_FOR_LEARNER = "etcdserver: rpc not supported for learner"
ERR_BAD_LEADER_TRANSFEREE = "etcdserver: bad leader transferee"

# The mvcc package's own texts, before the gRPC layer adds `etcdserver: `; shown in server logs.
MVCC_ERR_COMPACTED = "mvcc: required revision has been compacted"
MVCC_ERR_FUTURE_REV = "mvcc: required revision is a future revision"

# Each message's gRPC code name, as rpctypes pairs them.
CODES: dict[str, str] = {
    ERR_EMPTY_KEY: "InvalidArgument",
    ERR_KEY_NOT_FOUND: "InvalidArgument",
    ERR_VALUE_PROVIDED: "InvalidArgument",
    ERR_LEASE_PROVIDED: "InvalidArgument",
    ERR_TOO_MANY_OPS: "InvalidArgument",
    ERR_DUPLICATE_KEY: "InvalidArgument",
    ERR_COMPACTED: "OutOfRange",
    ERR_FUTURE_REV: "OutOfRange",
    ERR_NO_SPACE: "ResourceExhausted",
    ERR_LEASE_NOT_FOUND: "NotFound",
    ERR_LEASE_EXIST: "FailedPrecondition",
    ERR_LEASE_TTL_TOO_LARGE: "OutOfRange",
    ERR_NOT_PRIMARY: "Unknown",
    ERR_WATCH_CANCELED: "Canceled",
    ERR_MEMBER_EXIST: "FailedPrecondition",
    ERR_PEER_URL_EXIST: "FailedPrecondition",
    ERR_MEMBER_NOT_ENOUGH_STARTED: "FailedPrecondition",
    ERR_MEMBER_BAD_URLS: "InvalidArgument",
    ERR_MEMBER_NOT_FOUND: "NotFound",
    ERR_MEMBER_NOT_LEARNER: "FailedPrecondition",
    ERR_LEARNER_NOT_READY: "FailedPrecondition",
    ERR_TOO_MANY_LEARNERS: "FailedPrecondition",
    ERR_REQUEST_TOO_LARGE: "InvalidArgument",
    ERR_TOO_MANY_REQUESTS: "ResourceExhausted",
    ERR_NO_LEADER: "Unavailable",
    ERR_NOT_LEADER: "FailedPrecondition",
    ERR_LEADER_CHANGED: "Unavailable",
    ERR_NOT_CAPABLE: "Unavailable",
    ERR_STOPPED: "Unavailable",
    ERR_TIMEOUT: "Unavailable",
    ERR_TIMEOUT_DUE_TO_LEADER_FAIL: "Unavailable",
    ERR_TIMEOUT_DUE_TO_CONNECTION_LOST: "Unavailable",
    ERR_TIMEOUT_WAIT_APPLIED_INDEX: "Unavailable",
    ERR_UNHEALTHY: "Unavailable",
    ERR_CORRUPT: "DataLoss",
    ERR_NOT_SUPPORTED_FOR_LEARNER: "Unavailable",
    ERR_BAD_LEADER_TRANSFEREE: "FailedPrecondition",
}


class EtcdError(Exception):
    """An error as an etcd client receives it: a gRPC code name and etcd's exact message.

    `EtcdError(ERR_COMPACTED)` looks the code up in `CODES` (`"OutOfRange"`); a message that is
    not etcd's gets `"Unknown"`, as the gRPC layer gives any unmapped error. `str(err)` is the
    message alone, as `err.Error()` is in Go.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else CODES.get(message, "Unknown")

    @property
    def grpc_code(self) -> int:
        """The numeric gRPC code (`OutOfRange` is 11), as the JSON gateway reports it."""
        return GRPC_CODES[self.code]

    def to_dict(self) -> dict[str, str]:
        """The error as a response carries it: `{"code": "OutOfRange", "message": "..."}`."""
        return {"code": self.code, "message": self.message}

    @classmethod
    def from_dict(cls, d: dict[str, str]) -> EtcdError:
        """Inverse of `to_dict`."""
        return cls(d["message"], d.get("code"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EtcdError):
            return NotImplemented
        return (self.code, self.message) == (other.code, other.message)

    def __hash__(self) -> int:
        return hash((self.code, self.message))

    def __repr__(self) -> str:
        return f"EtcdError({self.message!r}, code={self.code!r})"
