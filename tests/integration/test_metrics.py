"""GET /metrics in the Prometheus text format (#7): counters follow what invocations did."""
import re
import urllib.request

from lambent_testlib import create_function, make_client, make_zip, unique_name

OK = "def handler(event, context):\n    if event.get('fail'):\n        raise ValueError('x')\n    return 1\n"


def scrape(url):
    with urllib.request.urlopen(url + "/metrics") as res:
        assert res.status == 200
        assert res.headers["Content-Type"].startswith("text/plain")
        text = res.read().decode()
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)", line)
        assert m, f"not a Prometheus sample line: {line!r}"
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return text, samples


def test_metrics_follow_invocations(server):
    c = make_client(server.url)
    fn = unique_name("metrics")
    create_function(c, fn, make_zip({"app.py": OK}))
    for _ in range(3):
        c.invoke(FunctionName=fn, Payload=b"{}")
    c.invoke(FunctionName=fn, Payload=b'{"fail": true}')
    text, s = scrape(server.url)
    label = f'{{function="{fn}"}}'
    assert s[f"lambent_invocations_total{label}"] == 4
    assert s[f"lambent_errors_total{label}"] == 1
    assert s[f"lambent_cold_starts_total{label}"] == 1
    assert s[f"lambent_warm_starts_total{label}"] == 3
    assert s[f"lambent_concurrent_executions{label}"] == 0
    assert s[f"lambent_duration_seconds_count{label}"] == 4
    assert s[f'lambent_duration_seconds_bucket{{function="{fn}",le="+Inf"}}'] == 4
    assert s[f"lambent_init_duration_seconds_count{label}"] == 1
    assert s["lambent_functions"] >= 1
    assert "lambent_async_queue_depth" in s
    assert "# TYPE lambent_duration_seconds histogram" in text


def test_real_prometheus_scrapes_it(server, tmp_path):
    """The Debian `prometheus` server scrapes /metrics and can query what Lambent exported."""
    import json
    import shutil
    import socket
    import subprocess
    import time

    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    c = make_client(server.url)
    fn = unique_name("scraped")
    create_function(c, fn, make_zip({"app.py": OK}))
    for _ in range(2):
        c.invoke(FunctionName=fn, Payload=b"{}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = server.url.split("//", 1)[1]
    config = tmp_path / "prometheus.yml"
    config.write_text(f"global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: lambent\n"
                      f"    static_configs:\n      - targets: ['{target}']\n")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        query = f"http://127.0.0.1:{port}/api/v1/query?query=lambent_invocations_total%7Bfunction%3D%22{fn}%22%7D"
        deadline = time.monotonic() + 60
        value = None
        while time.monotonic() < deadline and value is None:
            try:
                with urllib.request.urlopen(query, timeout=5) as res:
                    result = json.load(res)["data"]["result"]
                    if result:
                        value = float(result[0]["value"][1])
            except OSError:
                pass
            if value is None:
                time.sleep(0.5)
        assert value == 2, f"prometheus did not report the invocations (got {value})"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=5) as res:
            targets = json.load(res)["data"]["activeTargets"]
        assert targets and targets[0]["health"] == "up", targets
    finally:
        proc.terminate()
        proc.wait(timeout=20)
