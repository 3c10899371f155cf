import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from kube_teach import __version__
from kube_teach.cli import main


def test_version_prints_the_package_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out == f"kube-teach {__version__}\n"


def test_python_dash_m_runs_the_same_command():
    out = subprocess.run(
        [sys.executable, "-m", "kube_teach", "version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("kube-teach ")


def test_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as err:
        main(["frobnicate"])
    assert err.value.code == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lab_serves_api_status_without_a_browser(tmp_path):
    port = _free_port()
    env = dict(os.environ, JUPYTER_TOKEN="kube-teach-test", JUPYTER_CONFIG_DIR=str(tmp_path),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "kube_teach", "lab", "--no-browser", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/status",
            headers={"Authorization": "token kube-teach-test"},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=2) as reply:
                    status = json.load(reply)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.25)
        assert "started" in status and "kernels" in status
    finally:
        proc.terminate()
        proc.wait(timeout=30)
