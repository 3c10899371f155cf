"""`cluster.kubectl("get pods -o wide")`: kubectl's command line over a Cluster.

Only the verbs and flags the course uses; output is what kubectl prints for them.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from .api.errors import StatusError
from .api.kinds import KINDS
from .api.objects import Obj, dump, load
from .api.printers import table

if TYPE_CHECKING:
    from .cluster import Cluster, Output


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # never exit the interpreter
        from .cluster import ClientError

        raise ClientError(message)


def _parser() -> _Parser:
    p = _Parser(prog="kubectl", add_help=False)
    p.add_argument("verb")
    p.add_argument("args", nargs="*")
    p.add_argument("-n", "--namespace")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("-o", "--output")
    p.add_argument("-l", "--selector")
    p.add_argument("-f", "--filename")
    p.add_argument("--duration")
    p.add_argument("--audience", action="append", default=[])
    return p


def run(cluster: Cluster, argv: list[str]) -> Output:
    """Run one kubectl command against `cluster` and return its output text."""
    from .cluster import ClientError, Output

    if argv and argv[0] == "kubectl":
        argv = argv[1:]
    if not argv:
        raise ClientError("you must specify a command")
    opts = _parser().parse_args(argv)
    verb = opts.verb
    if verb == "create" and opts.args[:1] == ["token"]:
        return _create_token(cluster, opts)
    if verb in ("apply", "create"):
        if not opts.filename:
            raise ClientError("must specify one of -f and -k")
        fn = cluster.apply if verb == "apply" else cluster.create
        try:
            return fn(opts.filename, namespace=opts.namespace)
        except StatusError as err:
            raise _from_source(cluster, err, opts.filename, opts.namespace) from None
    if verb == "delete":
        if opts.filename:
            return cluster.delete(opts.filename, namespace=opts.namespace)
        if len(opts.args) < 2:
            raise ClientError("resource(s) were provided, but no name was specified")
        out = [cluster.delete(opts.args[0], n, opts.namespace) for n in opts.args[1:]]
        return Output("\n".join(out))
    if verb == "describe":
        if len(opts.args) < 2:
            raise ClientError("describe needs a resource type and a name")
        return cluster.describe(opts.args[0], opts.args[1], opts.namespace)
    if verb == "get":
        return _get(cluster, opts)
    raise ClientError(f'unknown command "{verb}" for "kubectl"')


def _from_source(
    cluster: Cluster, err: StatusError, filename: str, namespace: str | None
) -> StatusError:
    """kubectl names the file when creating an object failed (cmdutil.AddSourceToErr):
    `error when creating "web.yaml": deployments.apps "web" already exists`. Invalid errors are
    printed from their details, so they stay as they are."""
    if err.reason == "Invalid" or not err.reason:
        return err
    name = (err.details or {}).get("name")
    for obj in load(filename):
        info = KINDS.get(obj.kind)
        if info is None or (name and obj.name != name):
            continue
        exists = cluster.store.exists(info, obj.name, obj.namespace or namespace)
        if err.reason == "AlreadyExists" or not exists:
            message = f'error when creating "{filename}": {err.message}'
            return StatusError(err.reason, err.code, message, err.details)
    return err


def _create_token(cluster: Cluster, opts: argparse.Namespace) -> Output:
    """`kubectl create token <serviceaccount> [--duration 10m] [--audience a] [-o yaml]`."""
    from .cluster import ClientError, Output

    names = opts.args[1:]
    if len(names) != 1:
        raise ClientError(
            f"exactly one NAME is required, got {len(names)}\n"
            "See 'kubectl create token -h' for help and examples"
        )
    fmt = opts.output or ""
    if fmt not in ("", "yaml", "json", "name"):
        raise ClientError(
            f'unable to match a printer suitable for the output format "{fmt}", allowed formats '
            "are: go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,"
            "template,templatefile,yaml"
        )
    try:
        reply = cluster.token_request(
            names[0], opts.namespace or "default", opts.duration, audiences=opts.audience
        )
    except StatusError as err:
        raise ClientError(f"failed to create token: {err.message}") from None
    if fmt == "yaml":
        return Output(dump(reply).rstrip("\n"))
    if fmt == "json":
        return Output(json.dumps(reply, indent=4))
    if fmt == "name":
        return Output(f"tokenrequest.authentication.k8s.io/{names[0]}")
    return Output(reply["status"]["token"])


def _get(cluster: Cluster, opts: argparse.Namespace) -> Output:
    from .cluster import ClientError, Output

    if not opts.args:
        raise ClientError(
            'You must specify the type of resource to get. Use "kubectl api-resources" for a '
            "complete list of supported resources."
        )
    kinds = [cluster._resource(r) for r in opts.args[0].split(",")]
    names = opts.args[1:]
    now = cluster._unix_ns()
    objs_by_kind: list[tuple[str, list[Obj]]] = []
    for info in kinds:
        if names:
            objs = [cluster.store.get(info, n, opts.namespace) for n in names]
        else:
            objs = cluster.list(
                info.resource,
                opts.namespace,
                selector=opts.selector,
                all_namespaces=opts.all_namespaces,
            )
        objs_by_kind.append((info.kind, objs))
    fmt = opts.output or ""
    if fmt in ("yaml", "json"):
        items = [o for _, objs in objs_by_kind for o in objs]
        if len(items) == 1 and names:
            doc: dict = items[0]
        else:
            doc = {"apiVersion": "v1", "items": items, "kind": "List",
                   "metadata": {"resourceVersion": ""}}  # fmt: skip
        return Output(dump(doc).rstrip("\n") if fmt == "yaml" else json.dumps(doc, indent=4))
    if fmt == "name":
        lines = []
        for kind, objs in objs_by_kind:
            info = KINDS[kind]
            ref = info.type_name
            lines += [f"{ref}/{o.name}" for o in objs]
        return Output("\n".join(lines))
    if fmt not in ("", "wide"):
        raise ClientError(
            f'unable to match a printer suitable for the output format "{fmt}", allowed formats '
            "are: custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,"
            "jsonpath-as-json,jsonpath-file,name,template,templatefile,wide,yaml"
        )
    blocks = []
    for kind, objs in objs_by_kind:
        t = table(
            objs,
            kind,
            now,
            wide=fmt == "wide",
            all_namespaces=opts.all_namespaces,
            namespace=opts.namespace,
            prefix=len(kinds) > 1,
        )
        if t.rows or len(kinds) == 1:
            blocks.append(t.text())
    return Output("\n\n".join(blocks) if blocks else table([], kinds[0].kind, now).text())


__all__ = ["run", "load"]
