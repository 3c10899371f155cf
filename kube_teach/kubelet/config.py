"""A KubeletConfiguration (kubelet.config.k8s.io/v1beta1), as a kubelet reads its --config file.

The fields the simulated kubelet models become its constructor's options: eviction thresholds
and grace periods, reservations, image garbage collection and maxPods. Fields that describe what
the simulation has no counterpart for (ports, TLS, authentication, cgroup drivers ...) are
accepted and have no effect. Unknown fields are decoded leniently, as the kubelet does after its
strict decoding fails (it logs them and starts): `unknown_fields` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

API_VERSION = "kubelet.config.k8s.io/v1beta1"
_OPTIONS = {
    "evictionHard": "eviction_hard",
    "evictionSoft": "eviction_soft",
    "evictionSoftGracePeriod": "eviction_soft_grace_period",
    "evictionMinimumReclaim": "eviction_minimum_reclaim",
    "evictionPressureTransitionPeriod": "eviction_pressure_transition_period",
    "evictionMaxPodGracePeriod": "eviction_max_pod_grace_period",
    "systemReserved": "system_reserved",
    "kubeReserved": "kube_reserved",
}
_IMAGE_GC = ("imageGCHighThresholdPercent", "imageGCLowThresholdPercent", "imageMinimumGCAge")
# Real KubeletConfiguration fields the simulation has nothing to do with.
_NO_EFFECT = frozenset(
    "address port readOnlyPort healthzPort healthzBindAddress authentication authorization "
    "tlsCertFile tlsPrivateKeyFile tlsCipherSuites tlsMinVersion rotateCertificates "
    "serverTLSBootstrap cgroupDriver cgroupRoot cgroupsPerQOS clusterDNS clusterDomain "
    "containerRuntimeEndpoint staticPodPath syncFrequency fileCheckFrequency "
    "httpCheckFrequency nodeStatusUpdateFrequency nodeStatusReportFrequency "
    "nodeLeaseDurationSeconds podPidsLimit containerLogMaxSize containerLogMaxFiles "
    "serializeImagePulls registryPullQPS registryBurst eventRecordQPS eventBurst "
    "enforceNodeAllocatable protectKernelDefaults failSwapOn memorySwap featureGates "
    "resolvConf runtimeRequestTimeout hairpinMode cpuManagerPolicy memoryManagerPolicy "
    "topologyManagerPolicy shutdownGracePeriod shutdownGracePeriodCriticalPods "
    "streamingConnectionIdleTimeout volumeStatsAggPeriod logging".split()
)


class KubeletConfigError(ValueError):
    """The kubelet would refuse to start with this configuration."""


def unknown_fields(config: Mapping[str, Any] | None) -> list[str]:
    """Top-level fields no KubeletConfiguration has (strict decoding would refuse them)."""
    known = {"kind", "apiVersion", "maxPods", *_OPTIONS, *_IMAGE_GC, *_NO_EFFECT}
    return sorted(k for k in (config or {}) if k not in known)


def kubelet_options(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Kubelet constructor options a KubeletConfiguration dict amounts to, plus `maxPods`
    under the key `max_pods` (it sets the node's pod capacity)."""
    if not config:
        return {}
    if not isinstance(config, Mapping):
        raise KubeletConfigError("a KubeletConfiguration must be a mapping")
    if (
        config.get("kind", "KubeletConfiguration") != "KubeletConfiguration"
        or config.get("apiVersion", API_VERSION) != API_VERSION
    ):
        raise KubeletConfigError(
            f'no kind "{config.get("kind")}" is registered for version '
            f'"{config.get("apiVersion")}" (want {API_VERSION} KubeletConfiguration)'
        )
    out: dict[str, Any] = {}
    for field, option in _OPTIONS.items():
        if field in config:
            out[option] = config[field]
    if any(k in config for k in _IMAGE_GC):
        out["image_gc"] = {k: config[k] for k in _IMAGE_GC if k in config}
    if "maxPods" in config:
        pods = config["maxPods"]
        if not isinstance(pods, int) or isinstance(pods, bool) or pods < 1:
            raise KubeletConfigError(f"invalid configuration: maxPods ({pods}) must be positive")
        out["max_pods"] = pods
    return out


__all__ = ["API_VERSION", "KubeletConfigError", "kubelet_options", "unknown_fields"]
