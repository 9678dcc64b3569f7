"""``connex demo --console``: the demo, then the console on a printed loopback address with a fresh password."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading

import requests

from tests.e2e.helpers import child_env

from .conftest import login


def test_demo_console_serves_the_demo_state_until_ctrl_c(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "connex_core", "demo", "--dir", str(tmp_path / "demo"),
                             "--orders", "8", "--console", "--port", "0"], cwd=tmp_path, env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(180, proc.kill)
    timer.start()
    try:
        found = None
        for line in proc.stderr:
            found = re.match(r"console: (http://127\.0\.0\.1:\d+)/\s+password: (\S+)", line)
            if found:
                break
        assert found, "no console address printed"
        url, password = found.groups()
        assert requests.get(f"{url}/", timeout=10, allow_redirects=False).status_code == 303  # needs the login
        client = login(url, password)
        dashboard = client.get(f"{url}/", timeout=10).text
        assert "shipstation-to-quickbooks" in dashboard and "quickbooks-to-shipstation" in dashboard
        assert len(re.findall(r'Last run <a href="/log\?task=[\w-]+">#\d+</a>', dashboard)) >= 5
        log = client.get(f"{url}/log?task=shipstation-to-quickbooks&outcome=created", timeout=10).text
        assert len(re.findall(r'<a href="/orders/', log)) > 0
        # secrets of the simulated accounts stay out of the page
        config = (tmp_path / "demo" / "connex.toml").read_text()
        for secret in re.findall(r'(?:api_secret|client_secret) = "([^"]+)"', config):
            assert secret not in dashboard
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "Second run of every flow: 0 posted" in out
    finally:
        timer.cancel()
        proc.kill()
