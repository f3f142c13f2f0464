"""The replay notebook served by Voila on loopback, driven in headless Debian Chromium with Playwright."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, StepRecord

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "04_trajectory_replay.ipynb"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _requirements():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium not installed at /usr/bin/chromium")
    pytest.importorskip("voila")
    pytest.importorskip("playwright.sync_api")
    if shutil.which("jupyter") is None and not Path(sys.executable).exists():
        pytest.skip("no jupyter")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dialogue(task_id, tool):
    return Dialogue.from_dict({
        "id": task_id, "tools": [{"Name": "lookup", "function": "find things", "input": {"q": "string"}}],
        "instruction": f"find {task_id} <script>alert(1)</script>",
        "conversations": [{"from": "user", "value": f"find {task_id} <script>alert(1)</script>"},
                          {"from": "assistant", "value": "I will search. Next: caller."},
                          {"from": "caller", "value": f'Action: {tool}\nAction Input: {{"q": "{task_id}"}}'},
                          {"from": "observation", "value": '{"hits": 3}'},
                          {"from": "assistant", "value": "Found it. Next: conclusion."},
                          {"from": "conclusion", "value": "three hits"}]})


def _write_inputs(tmp_path: Path) -> dict[str, str]:
    files = []
    for method, tool in (("alpha_umi", "lookup"), ("single_llm", "lokup")):
        trajs = [RecordedTrajectory(t, method, _dialogue(t, tool), [StepRecord("planner", "x", 9, 4, 0.2)], "conclusion")
                 for t in ("t1", "t2")]
        path = tmp_path / f"{method}.jsonl"
        path.write_text("".join(json.dumps(t.to_dict()) + "\n" for t in trajs))
        files.append(str(path))
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps([_dialogue(t, "lookup").to_dict() for t in ("t1", "t2")]))
    return {"UMI_LAB_REPLAY": ",".join(files), "UMI_LAB_REPLAY_GOLD": str(gold)}


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/voila/api/shutdown", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # the server answers
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("voila did not start")


def _step_text(page) -> str:
    return page.inner_text(".umi-replay-view")


def test_replay_notebook_in_voila_with_chromium(tmp_path):
    _requirements()
    from playwright.sync_api import sync_playwright

    port = _free_port()
    env = {**os.environ, **_write_inputs(tmp_path), "UMI_LAB_SMOKE": "1", "UMI_LAB_OUT": str(tmp_path / "out")}
    log = open(tmp_path / "voila.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
         "--ServerApp.port_retries=0", "--show_tracebacks=True"],
        cwd=str(NOTEBOOK.parent), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_http(url, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            alerts = []
            page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
            page.goto(url, timeout=180_000)
            page.wait_for_selector(".umi-replay-view .umi-col", timeout=180_000)
            first = _step_text(page)
            assert "turn 1/6" in first and "alpha_umi" in first and "single_llm" in first and "gold" in first
            page.click("button.umi-next")
            page.wait_for_function("document.querySelector('.umi-replay-view').innerText.includes('turn 2/6')",
                                   timeout=30_000)
            assert "I will search." in _step_text(page)
            page.locator(".umi-play button").first.click()                     # play runs on its own
            page.wait_for_function("document.querySelector('.umi-replay-view').innerText.includes('turn 4/6')",
                                   timeout=30_000)
            page.click("button.umi-pause")
            assert "gold: lookup" in _step_text(page)                           # single_llm's wrong tool is marked
            shot = tmp_path / "replay.png"
            page.screenshot(path=str(shot), full_page=True)
            browser.close()
        assert shot.stat().st_size > 10_000
        assert alerts == []                                                    # hostile text never ran
    finally:
        _stop(proc, log)


def _filter_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """alpha_umi: t1 concludes; t2 gives up after a caller step with an unknown tool. Gold for both."""
    trajs = []
    for task_id, outcome in (("t1", "conclusion"), ("t2", "give_up")):
        steps = [StepRecord("planner", "x", 9, 4, 0.2)]
        if outcome == "give_up":
            steps.append(StepRecord("caller", "Action: lokup", 9, 4, 0.2, error="tool: unknown_tool"))
        trajs.append(RecordedTrajectory(task_id, "alpha_umi", _dialogue(task_id, "lookup"), steps, outcome))
    path = tmp_path / "alpha_umi.jsonl"
    path.write_text("".join(json.dumps(t.to_dict()) + "\n" for t in trajs))
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps([_dialogue(t, "lookup").to_dict() for t in ("t1", "t2")]))
    return path, gold


def test_standalone_page_filters_in_chromium(tmp_path):
    _requirements()
    from playwright.sync_api import sync_playwright

    from umi_lab.replay import export_replay_html

    path, gold = _filter_inputs(tmp_path)
    page_file = export_replay_html([path], tmp_path / "replay.html", gold=gold)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(page_file.as_uri())
        page.wait_for_selector("#umi-view .umi-col")
        assert page.inner_text("#umi-shown") == "2 of 2 tasks"
        page.select_option("#umi-f-error", "tool: unknown_tool")
        assert page.inner_text("#umi-shown") == "1 of 2 tasks"
        assert page.eval_on_selector_all("#umi-task option", "os => os.map(o => o.textContent)") == ["t2"]
        assert "task t2" in page.inner_text("#umi-view")
        page.select_option("#umi-f-outcome", "conclusion")                 # t2 gave up: nothing left
        assert page.inner_text("#umi-shown") == "0 of 2 tasks"
        assert "no task matches" in page.inner_text("#umi-view")
        page.select_option("#umi-f-error", "(any)")
        assert page.eval_on_selector_all("#umi-task option", "os => os.map(o => o.textContent)") == ["t1"]
        browser.close()


def test_replay_app_filters_in_voila_with_chromium(tmp_path):
    _requirements()
    from playwright.sync_api import sync_playwright

    path, gold = _filter_inputs(tmp_path)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = open(tmp_path / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "umi_lab", "replay-app", "--trajectories", str(path), "--gold",
                             str(gold), "--port", str(port)], cwd=str(tmp_path), env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_http(url, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url, timeout=180_000)
            page.wait_for_selector(".umi-replay-view .umi-col", timeout=180_000)
            assert "task t1" in _step_text(page) and "2 of 2 tasks" in page.inner_text(".umi-shown")
            page.select_option(".umi-filter-outcome select", "give_up")
            page.wait_for_function("document.querySelector('.umi-shown').innerText.includes('1 of 2')",
                                   timeout=30_000)
            page.wait_for_function("document.querySelector('.umi-replay-view').innerText.includes('task t2')",
                                   timeout=30_000)
            options = page.eval_on_selector_all(".umi-task select option", "os => os.map(o => o.textContent)")
            assert options == ["t2"]
            page.select_option(".umi-filter-role select", "caller")
            page.select_option(".umi-filter-outcome select", "conclusion")      # t1 concluded without errors
            page.wait_for_function("document.querySelector('.umi-replay-view').innerText.includes('no task matches')",
                                   timeout=30_000)
            page.screenshot(path=str(tmp_path / "app.png"), full_page=True)
            browser.close()
    finally:
        _stop(proc, log)


def _stop(proc: subprocess.Popen, log) -> None:
    """End a server started by a test (terminate, then kill after 20 s) and close its log."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
