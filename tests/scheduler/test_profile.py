"""The default profile is upstream's default_plugins.go, and user profiles merge with it as
upstream's mergePlugins and expandMultiPointPlugins do."""

import pytest

from kube_teach.scheduler import DEFAULT_PLUGINS, DEFAULT_PROFILE, SchedulerError, build_profile
from kube_teach.scheduler.framework import Status, merge_plugin_set

# pkg/scheduler/apis/config/v1/default_plugins.go (v1.34, DynamicResourceAllocation on).
UPSTREAM_MULTI_POINT = [
    {"name": "SchedulingGates"},
    {"name": "PrioritySort"},
    {"name": "NodeUnschedulable"},
    {"name": "NodeName"},
    {"name": "TaintToleration", "weight": 3},
    {"name": "NodeAffinity", "weight": 2},
    {"name": "NodePorts"},
    {"name": "NodeResourcesFit", "weight": 1},
    {"name": "VolumeRestrictions"},
    {"name": "NodeVolumeLimits"},
    {"name": "VolumeBinding"},
    {"name": "VolumeZone"},
    {"name": "PodTopologySpread", "weight": 2},
    {"name": "InterPodAffinity", "weight": 2},
    {"name": "DynamicResources"},
    {"name": "DefaultPreemption"},
    {"name": "NodeResourcesBalancedAllocation", "weight": 1},
    {"name": "ImageLocality", "weight": 1},
    {"name": "DefaultBinder"},
]


def test_default_plugins_equal_upstream_default_plugins_go():
    assert DEFAULT_PLUGINS == {"multiPoint": {"enabled": UPSTREAM_MULTI_POINT}}


def test_default_profile_expands_each_plugin_at_the_points_it_implements():
    assert DEFAULT_PROFILE.names("queueSort") == ["PrioritySort"]
    assert DEFAULT_PROFILE.names("preEnqueue") == ["SchedulingGates", "DynamicResources"]
    assert DEFAULT_PROFILE.names("filter") == [
        "NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts",
        "NodeResourcesFit", "VolumeRestrictions", "NodeVolumeLimits", "VolumeBinding",
        "VolumeZone", "PodTopologySpread", "InterPodAffinity", "DynamicResources",
    ]  # fmt: skip
    assert DEFAULT_PROFILE.names("postFilter") == ["DynamicResources", "DefaultPreemption"]
    assert DEFAULT_PROFILE.names("score") == [
        "TaintToleration", "NodeAffinity", "NodeResourcesFit", "VolumeBinding",
        "PodTopologySpread", "InterPodAffinity", "NodeResourcesBalancedAllocation", "ImageLocality",
    ]  # fmt: skip
    assert DEFAULT_PROFILE.weights == {
        "TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1, "VolumeBinding": 1,
        "PodTopologySpread": 2, "InterPodAffinity": 2, "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }  # fmt: skip
    assert DEFAULT_PROFILE.names("bind") == ["DefaultBinder"]
    assert DEFAULT_PROFILE.plugin_args["NodeResourcesFit"]["scoringStrategy"] == {
        "type": "LeastAllocated",
        "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}],
    }
    assert DEFAULT_PROFILE.plugin_args["InterPodAffinity"]["hardPodAffinityWeight"] == 1
    assert DEFAULT_PROFILE.plugin_args["DefaultPreemption"] == {
        "minCandidateNodesPercentage": 10,
        "minCandidateNodesAbsolute": 100,
    }
    assert DEFAULT_PROFILE.plugin_args["PodTopologySpread"]["defaultingType"] == "System"


@pytest.mark.parametrize(
    ("default", "custom", "want"),
    [
        pytest.param(
            {"enabled": [{"name": "A"}, {"name": "B"}]},
            {"enabled": [{"name": "C"}]},
            [{"name": "A"}, {"name": "B"}, {"name": "C"}],
            id="custom plugins are appended",
        ),
        pytest.param(
            {"enabled": [{"name": "A"}, {"name": "B"}]},
            {"disabled": [{"name": "A"}]},
            [{"name": "B"}],
            id="a disabled default is dropped",
        ),
        pytest.param(
            {"enabled": [{"name": "A"}, {"name": "B"}]},
            {"enabled": [{"name": "B"}, {"name": "A"}], "disabled": [{"name": "*"}]},
            [{"name": "B"}, {"name": "A"}],
            id="* drops all defaults, so the custom order is used",
        ),
        pytest.param(
            {"enabled": [{"name": "A", "weight": 1}, {"name": "B"}]},
            {"enabled": [{"name": "C"}, {"name": "A", "weight": 5}]},
            [{"name": "A", "weight": 5}, {"name": "B"}, {"name": "C"}],
            id="a reconfigured default keeps its place with the custom weight",
        ),
    ],
)
def test_merge_plugin_set(default, custom, want):
    assert merge_plugin_set(default, custom)["enabled"] == want


def test_disabling_a_plugin_in_multi_point_removes_it_everywhere():
    profile = build_profile(
        {"plugins": {"multiPoint": {"disabled": [{"name": "TaintToleration"}]}}}
    )
    assert "TaintToleration" not in profile.names("filter") + profile.names("score")


def test_disabling_a_plugin_at_one_point_keeps_it_at_the_others():
    profile = build_profile({"plugins": {"score": {"disabled": [{"name": "TaintToleration"}]}}})
    assert "TaintToleration" in profile.names("filter")
    assert "TaintToleration" not in profile.names("score")
    assert "TaintToleration" in profile.names("preScore")


def test_star_at_one_point_keeps_only_that_points_own_list():
    profile = build_profile(
        {
            "plugins": {
                "score": {
                    "disabled": [{"name": "*"}],
                    "enabled": [{"name": "NodeResourcesFit", "weight": 5}],
                }
            }
        }
    )
    assert profile.names("score") == ["NodeResourcesFit"]
    assert profile.weights["NodeResourcesFit"] == 5
    assert len(profile.names("filter")) == len(DEFAULT_PROFILE.names("filter"))


def test_a_point_that_names_a_multi_point_plugin_puts_it_first():
    profile = build_profile({"plugins": {"filter": {"enabled": [{"name": "NodeResourcesFit"}]}}})
    assert profile.names("filter")[:3] == ["NodeResourcesFit", "NodeUnschedulable", "NodeName"]
    assert profile.names("filter").count("NodeResourcesFit") == 1


def test_reweighting_keeps_order_and_zero_means_one():
    profile = build_profile(
        {
            "plugins": {
                "multiPoint": {
                    "enabled": [
                        {"name": "TaintToleration", "weight": 10},
                        {"name": "ImageLocality", "weight": 0},
                    ]
                }
            }
        }
    )
    assert profile.names("score") == DEFAULT_PROFILE.names("score")
    assert profile.weights["TaintToleration"] == 10 and profile.weights["ImageLocality"] == 1


def test_everything_disabled_but_one_plugin():
    profile = build_profile(
        {
            "plugins": {
                "multiPoint": {"enabled": [{"name": "NodePorts"}], "disabled": [{"name": "*"}]}
            }
        }
    )
    assert profile.names("filter") == ["NodePorts"] and profile.names("score") == []


def test_plugin_config_args_are_defaulted_with_upstream_names():
    profile = build_profile(
        {
            "pluginConfig": [
                {
                    "name": "NodeResourcesFit",
                    "args": {"scoringStrategy": {"type": "MostAllocated"}},
                },
                {"name": "InterPodAffinity", "args": {"hardPodAffinityWeight": 7}},
            ]
        }
    )
    strategy = profile.plugin_args["NodeResourcesFit"]["scoringStrategy"]
    assert strategy["type"] == "MostAllocated" and strategy["resources"][0] == {
        "name": "cpu",
        "weight": 1,
    }
    assert profile.plugin_args["InterPodAffinity"]["hardPodAffinityWeight"] == 7


def test_out_of_tree_plugins_are_appended():
    class PreferSpot:
        name = "PreferSpot"

        def score(self, state, pod, node):
            return 100 if node.labels.get("lifecycle") == "spot" else 0

    profile = build_profile(
        {"plugins": {"multiPoint": {"enabled": [{"name": "PreferSpot", "weight": 2}]}}},
        plugins={"PreferSpot": PreferSpot},
    )
    assert profile.names("score")[-1] == "PreferSpot" and profile.weights["PreferSpot"] == 2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(
            {"plugins": {"filter": {"enabled": [{"name": "Nope"}]}}},
            'plugin "Nope" does not exist',
            id="unknown",
        ),
        pytest.param(
            {"plugins": {"filter": {"enabled": [{"name": "ImageLocality"}]}}},
            'plugin "ImageLocality" does not extend FilterPlugin plugin',
            id="wrong extension point",
        ),
        pytest.param(
            {
                "pluginConfig": [
                    {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "Best"}}}
                ]
            },
            'scoringStrategy.type: Unsupported value: "Best"',
            id="invalid args",
        ),
    ],
)
def test_invalid_profiles_are_rejected(config, message):
    with pytest.raises(SchedulerError, match=message):
        build_profile(config)


def test_status_plugin_is_recorded():
    assert Status().with_plugin("X").plugin == "X"
