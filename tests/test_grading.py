"""check(): the verdict and the message a learner gets for right, wrong, unsolved and crashing answers."""

import pytest

from kube_teach.grading import Result, check, register
from kube_teach.grading.check import EXERCISES
from kube_teach.scenarios.declarative import Actions, edge_triggered, replicaset_reconcile

HELLO = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  replicas: 2
  selector:
    matchLabels:
      app: hello
  template:
    metadata:
      labels:
        app: hello
    spec:
      containers:
      - name: web
        image: nginx:1.27
"""


def stub(*args):
    raise NotImplementedError


def crashes(desired, running):
    return {}["missing"]


def missing_only(desired, running):
    return Actions(create=max(0, desired - len(running)))


def negative_create(desired, running):
    return Actions(create=desired - len(running))


def deletes_the_oldest_always(desired, running):
    return Actions(create=max(0, desired - len(running)), delete=running[: len(running) - desired])


def mutates(desired, running):
    actions = replicaset_reconcile(desired, running)
    running.clear()
    return actions


def level(event, desired, running):
    return replicaset_reconcile(desired, running)


def ignores_repeats_of_the_deployment(event, desired, running):
    if event.kind == "Deployment":
        return Actions()
    return replicaset_reconcile(desired, running)


@pytest.mark.parametrize(
    ("exercise", "answer", "passed", "message"),
    [
        pytest.param("01-reconcile", replicaset_reconcile, True, "",
                     id="the seed's replicaset logic is right"),
        pytest.param("01-reconcile", stub, False, "replace `raise NotImplementedError` in reconcile",
                     id="an unsolved stub is not yet, with the hint"),
        pytest.param("01-reconcile", crashes, False, "reconcile(3, []) raised KeyError: 'missing'",
                     id="a crash is not yet, naming the inputs and the error"),
        pytest.param("01-reconcile", missing_only, False,
                     "reconcile(1, ['app-1', 'app-2', 'app-3']) returned Actions(create=0, "
                     "delete=()), but 2 copies are too many.",
                     id="never deleting is caught on a state with too many copies"),
        pytest.param("01-reconcile", negative_create, False,
                     "raised ValueError: Actions.create must be >= 0, got -2",
                     id="a negative create says to name the copies to delete"),
        pytest.param("01-reconcile", deletes_the_oldest_always, False,
                     "reconcile(3, ['app-1', 'app-3']) returned Actions(create=1, "
                     "delete=('app-1',)), but 1 copy is missing.",
                     id="a slice that goes wrong when one copy is missing is caught"),
        pytest.param("01-reconcile", mutates, False, "changed running to []",
                     id="changing running is caught: reconcile must be pure"),
        pytest.param("01-reconcile", lambda d, r: None, False,
                     "reconcile(3, []) returned None; return an Actions",
                     id="returning nothing says what to return"),
        pytest.param("01-reconcile", "reconcile", False, "pass the function itself",
                     id="a string instead of a function says to pass the function"),
        pytest.param("01-level", level, True, "",
                     id="a handler that looks only at the state is right"),
        pytest.param("01-level", edge_triggered, False,
                     "on_event(ADDED Container app-1, 3, ['app-1', 'app-3']) returned "
                     "Actions(create=0, delete=()), but 1 copy is missing, whatever the event says",
                     id="the edge-triggered handler misses the copy lost while it was down"),
        pytest.param("01-level", ignores_repeats_of_the_deployment, False,
                     "on_event(ADDED Deployment app, 3, ['app-1', 'app-3'])",
                     id="a handler that still depends on the event is caught"),
        pytest.param("01-level", stub, False, "replace `raise NotImplementedError` in on_event",
                     id="an unsolved handler is not yet, with the hint"),
        pytest.param("00-first-deployment", HELLO, True, "",
                     id="the hello Deployment is right"),
        pytest.param("00-first-deployment", ..., False, "write the YAML of a Deployment",
                     id="an answer left as ... is not yet, with the hint"),
        pytest.param("00-first-deployment", HELLO.replace("replicas: 2", "replicas: 3"), False,
                     "spec.replicas is 3; the exercise asks for 2.",
                     id="the wrong replica count is named"),
        pytest.param("00-first-deployment", HELLO.replace("apps/v1", "v1"), False,
                     "Deployments are served as apiVersion apps/v1, not v1.",
                     id="the wrong apiVersion is named"),
        pytest.param("00-first-deployment", HELLO.replace("app: hello\n  template", "app: x\n  template"),
                     False, "the API server rejected it: The Deployment \"hello\" is invalid: ",
                     id="a manifest the API server rejects gets the server's words"),
        pytest.param("00-first-deployment", "kind: [1", False, "kubectl cannot read it: ",
                     id="YAML that does not parse gets kubectl's words"),
        pytest.param("99-nothing", 1, False, "there is no exercise with this id",
                     id="an unknown exercise id is not yet, listing the known ones"),
    ],
)  # fmt: skip
def test_check_verdicts(exercise, answer, passed, message):
    result = check(exercise, answer)
    assert isinstance(result, Result)
    assert result.passed is passed
    assert message in result.message
    if passed:
        assert result.message == ""


def test_a_crash_inside_a_grader_is_reported_not_raised():
    @register("test-grader-crash")
    def grade(answer):
        raise RuntimeError("grader bug")

    try:
        result = check("test-grader-crash", 1)
    finally:
        del EXERCISES["test-grader-crash"]
    assert not result.passed
    assert result.message == "your answer raised RuntimeError: grader bug"


@pytest.mark.parametrize(
    ("passed", "text"),
    [
        pytest.param(True, "✔ 01-reconcile: correct.", id="a pass reads correct"),
        pytest.param(False, "✘ 01-reconcile: not yet. look again", id="a fail reads not yet"),
    ],
)
def test_result_renders_the_same_in_text_and_html(passed, text):
    result = Result("01-reconcile", passed, "" if passed else "look again")
    assert result.text() == text
    assert repr(result) == text
    assert text in result._repr_html_()
    assert bool(result) is passed


def test_every_chapter_exercise_is_registered():
    check("00-first-deployment", ...)  # importing the exercises registers them
    assert {"00-first-deployment", "01-reconcile", "01-level"} <= set(EXERCISES)
