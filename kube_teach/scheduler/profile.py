"""Scheduler profiles: a KubeSchedulerConfiguration profile's plugin sets merged with the
defaults, then the plugin instances enabled at each extension point and their score weights.
Semantics: kube-scheduler's apis/config/v1 (mergePlugins, getScoreWeights) and
runtime/framework.go (NewFramework, expandMultiPointPlugins); registry.py adds build_profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .interface import EXTENSION_POINTS, SchedulerError, implements


def _plugin_list(items: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    return [dict(p) for p in items or ()]


def merge_plugin_set(default: Mapping[str, Any], custom: Mapping[str, Any]) -> dict[str, Any]:
    """Merge one extension point's `{enabled, disabled}` as upstream's mergePluginSet does.

    Disabled names (or "*") drop defaults; a default that is enabled again keeps its place with
    the custom settings (weight); other custom plugins are appended in their order.
    """
    disabled = [{"name": p["name"]} for p in _plugin_list(custom.get("disabled"))]
    disabled += [{"name": p["name"]} for p in _plugin_list(default.get("disabled"))]
    disabled_names = {p["name"] for p in disabled}
    custom_enabled = _plugin_list(custom.get("enabled"))
    by_name = {p["name"]: (i, p) for i, p in enumerate(custom_enabled)}
    replaced: set[int] = set()
    enabled: list[dict[str, Any]] = []
    if "*" not in disabled_names:
        for plugin in _plugin_list(default.get("enabled")):
            if plugin["name"] in disabled_names:
                continue
            if plugin["name"] in by_name:
                index, plugin = by_name[plugin["name"]]
                replaced.add(index)
            enabled.append(plugin)
    enabled += [p for i, p in enumerate(custom_enabled) if i not in replaced]
    return {"enabled": enabled, "disabled": disabled}


def merge_plugins(default: Mapping[str, Any], custom: Mapping[str, Any] | None) -> dict[str, Any]:
    """Upstream's mergePlugins over every extension point plus multiPoint (every point is
    present in the result, as `{enabled, disabled}`)."""
    custom = custom or {}
    points = ["multiPoint", *EXTENSION_POINTS]
    return {
        point: merge_plugin_set(default.get(point) or {}, custom.get(point) or {})
        for point in points
    }


class Profile:
    """One scheduler profile: the plugin instances enabled at each extension point, in order,
    and the score weights. Build it with `Profile.build(config, registry, default_plugins)`.

    `plugins[point]` lists instances for an extension point ("filter", "score", ...); one
    instance serves every point its plugin implements. `weights[name]` is the score weight.
    """

    def __init__(
        self,
        scheduler_name: str,
        plugins: Mapping[str, list[Any]],
        weights: Mapping[str, int],
        plugin_args: Mapping[str, Mapping[str, Any]],
        percentage_of_nodes_to_score: int | None = None,
    ) -> None:
        self.scheduler_name = scheduler_name
        self.plugins = {point: list(plugins.get(point, ())) for point in EXTENSION_POINTS}
        self.weights = dict(weights)
        self.plugin_args = {k: dict(v) for k, v in plugin_args.items()}
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score

    @classmethod
    def build(
        cls,
        config: Mapping[str, Any] | None,
        registry: Mapping[str, type],
        default_plugins: Mapping[str, Any],
    ) -> Profile:
        """A profile from a `kubescheduler.config.k8s.io/v1` profile dict (None for defaults).

        Keys: schedulerName, percentageOfNodesToScore, plugins (per extension point and
        multiPoint, each `{enabled: [{name, weight}], disabled: [{name}]}`), pluginConfig
        (`[{name, args}]`, upstream argument names). Plugins merge with `default_plugins`
        as mergePlugins does; args are defaulted by each plugin's `default_args`.
        Raises SchedulerError for unknown plugins or invalid args.
        """
        config = config or {}
        merged = merge_plugins(default_plugins, config.get("plugins"))
        supplied = {pc["name"]: pc.get("args") or {} for pc in config.get("pluginConfig") or ()}
        needed: list[str] = []
        for point in ["multiPoint", *EXTENSION_POINTS]:
            for p in merged[point]["enabled"]:
                if p["name"] not in needed:
                    needed.append(p["name"])
        instances: dict[str, Any] = {}
        plugin_args: dict[str, Mapping[str, Any]] = {}
        for name in needed:
            factory = registry.get(name)
            if factory is None:
                raise SchedulerError(f'plugin "{name}" does not exist')
            defaulter = getattr(factory, "default_args", None)
            args = defaulter(supplied.get(name, {})) if defaulter else dict(supplied.get(name, {}))
            plugin_args[name] = args
            try:
                instances[name] = factory(args) if defaulter else factory()
            except (ValueError, TypeError, KeyError) as err:
                raise SchedulerError(f"initializing plugin {name!r}: {err}") from err
        plugins = {point: _expand(point, merged, instances) for point in EXTENSION_POINTS}
        weights: dict[str, int] = {}
        for p in merged["score"]["enabled"] + merged["multiPoint"]["enabled"]:
            # Score's own entry wins over the multiPoint one; weight 0 means 1 (getScoreWeights).
            if p["name"] in weights or not implements(instances[p["name"]], "score"):
                continue
            weights[p["name"]] = int(p.get("weight") or 0) or 1
        percentage = config.get("percentageOfNodesToScore")
        return cls(
            config.get("schedulerName") or "default-scheduler",
            plugins,
            weights,
            plugin_args,
            percentage,
        )

    def names(self, point: str) -> list[str]:
        """Plugin names enabled at an extension point, in order."""
        return [p.name for p in self.plugins[point]]

    def has_score_plugins(self) -> bool:
        return bool(self.plugins["score"])

    def __repr__(self) -> str:
        return f"<Profile {self.scheduler_name} filter={self.names('filter')}>"


_GO_TYPES = {point: point[0].upper() + point[1:] + "Plugin" for point in EXTENSION_POINTS}


def _expand(point: str, merged: Mapping[str, Any], instances: Mapping[str, Any]) -> list[Any]:
    # The point's own list (updatePluginList), then expandMultiPointPlugins: plugins named both
    # at the point and in multiPoint keep the point's order and come first, then the multiPoint
    # plugins, then the rest of the point's list.
    specific: list[str] = []
    for p in merged[point]["enabled"]:
        name = p["name"]
        if not implements(instances[name], point):
            raise SchedulerError(f'plugin "{name}" does not extend {_GO_TYPES[point]} plugin')
        if name in specific:
            raise SchedulerError(f'plugin "{name}" already registered as "{_GO_TYPES[point]}"')
        specific.append(name)
    disabled = {p["name"] for p in merged[point]["disabled"]}
    if "*" in disabled:
        return [instances[n] for n in specific]
    overrides: list[str] = []
    multi: list[str] = []
    for p in merged["multiPoint"]["enabled"]:
        name = p["name"]
        if not implements(instances[name], point) or name in disabled:
            continue
        if name in specific:
            overrides.append(name)
        elif name in multi:
            raise SchedulerError(f'plugin "{name}" already registered as "{_GO_TYPES[point]}"')
        else:
            multi.append(name)
    ordered = [n for n in specific if n in overrides] + multi
    ordered += [n for n in specific if n not in overrides]
    return [instances[n] for n in ordered]
