"""Open a local HTML page in headless Chromium (Debian's `chromium`) over the DevTools protocol.

`render` loads the page, waits until a JavaScript condition holds, and returns
every URL the page requested, the requests that failed, the state of its
<img> elements, and a screenshot: what the report tests need to say that a
page renders offline with its images.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
]
# Schemes that stay on this machine; anything else (http, https, ws) is a request to another host.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "devtools:")
PAGE_STATE = """(() => { try { return JSON.stringify({
    ready: document.readyState,
    images: Array.from(document.images).map(i => ({src: i.src.slice(0, 48), loaded: i.complete && i.naturalWidth > 0})),
    svg: document.querySelectorAll('svg').length,
    canvas: document.querySelectorAll('canvas').length,
    text: document.body ? document.body.innerText.slice(0, 5000) : '',
    condition: Boolean(CONDITION),
}); } catch (error) { return null; } })()"""


def chromium() -> str:
    """Path of Debian's chromium; the test skips without it unless CI demands it."""
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("PIPELINE_REQUIRE_SYSTEM_PACKAGES"):
            pytest.fail("chromium is not installed (bash setup.sh --test installs it as root)")
        pytest.skip("chromium is not installed (Debian package chromium; bash setup.sh --test)")
    return path


class DevTools:
    """A minimal DevTools-protocol client: numbered commands, events collected on the way."""

    def __init__(self, url: str):
        import websocket

        self.socket = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")


def _debugger_url(profile: Path, process: subprocess.Popen, timeout: float = 60) -> str:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while not port_file.exists() or not port_file.read_text().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"chromium did not start (exit {process.poll()})")
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
        pages = [t for t in json.load(response) if t["type"] == "page"]
    return pages[0]["webSocketDebuggerUrl"]


def render(
    page: Path, screenshot: Path, *steps: tuple[str, str], timeout: float = 60, width: int = 1280, measure: str = ""
) -> dict:
    """Load `page` in a window `width` pixels wide, then for each (action, condition) of `steps`
    run the JavaScript `action` (may be empty) and wait until `condition` holds; save a PNG
    screenshot; return what happened, with what the JavaScript `measure` returned then."""
    binary = chromium()
    # Chromium's helper processes may still write into the profile for a moment after the
    # browser dies: the whole process group is killed, and a late file does not fail the test.
    with tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [binary, *FLAGS, f"--window-size={width},1400", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            tools = DevTools(_debugger_url(Path(profile), process))
            tools.call("Network.enable")
            tools.call("Page.enable")
            tools.call("Page.navigate", url=Path(page).resolve().as_uri())
            settled = True
            for action, condition in steps or [("", "true")]:
                if action:
                    tools.evaluate(action)
                probe = PAGE_STATE.replace("CONDITION", condition)
                deadline = time.monotonic() + timeout
                while True:
                    state = json.loads(tools.evaluate(probe) or '{"ready": "navigating"}')
                    if state["ready"] == "complete" and state["condition"]:
                        break
                    if time.monotonic() > deadline:
                        settled = False
                        break
                    time.sleep(0.25)
            time.sleep(0.5)  # let late requests (fonts, lazy images) show up
            state = json.loads(tools.evaluate(probe))
            measured = tools.evaluate(measure) if measure else None
            shot = tools.call("Page.captureScreenshot", format="png")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            tools.socket.close()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    events = tools.events
    requested = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    failed = [e["params"].get("errorText", "") for e in events if e.get("method") == "Network.loadingFailed"]
    return {
        **state,
        "settled": settled,
        "requests": requested,
        "external": [url for url in requested if not url.startswith(LOCAL_SCHEMES)],
        "failed": failed,
        "measured": measured,
    }
