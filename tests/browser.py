"""Open a page from disk in headless Chromium and report what a person would see and hear.

Chromium is driven through the DevTools protocol over a pipe (`--remote-debugging-pipe`: messages are
JSON, NUL-terminated, commands on the child's fd 3, replies on its fd 4), so nothing but the Debian
`chromium` package is needed: no driver, no port, no network. `check_page` loads the page, waits
until every `<audio>` has loaded its metadata (or failed) and every image has loaded (or failed),
and returns what the page's own DOM says about them, plus a full-page screenshot.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import pathlib
import select
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_SECONDS = 60.0
WIDTH = 1400

# Runs in the page: resolves when every audio element has metadata or an error and every image is complete.
_INSPECT = """
(async () => {
  const settle = (audio) => new Promise((resolve) => {
    if (audio.readyState >= 1 || audio.error) return resolve();
    audio.addEventListener('loadedmetadata', resolve, {once: true});
    audio.addEventListener('error', resolve, {once: true});
    audio.load();
  });
  const loaded = (img) => img.complete ? Promise.resolve() : new Promise((resolve) => {
    img.addEventListener('load', resolve, {once: true});
    img.addEventListener('error', resolve, {once: true});
  });
  const audios = [...document.querySelectorAll('audio')];
  const images = [...document.images];
  await Promise.all([...audios.map(settle), ...images.map(loaded)]);
  return {
    audio: audios.map((a) => ({src: a.currentSrc, duration: a.duration, readyState: a.readyState,
                               error: a.error ? a.error.code : null, canPlayWav: a.canPlayType('audio/wav')})),
    images: images.map((i) => ({src: i.currentSrc, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight})),
    height: Math.ceil(document.documentElement.scrollHeight),
  };
})()
"""


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) executable on PATH, or None."""
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


needs_chromium = pytest.mark.skipif(
    find_chromium() is None, reason="the browser test needs Chromium: apt-get install chromium (.ci/run installs it)")


class _DevTools:
    """A DevTools protocol session with one browser over its pipe."""

    def __init__(self, executable: str, profile: str):
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        # The browser reads commands on fd 3 and writes replies on fd 4. A small Python trampoline moves the pipe
        # ends there and execs the browser (no preexec_fn, which is unsafe in a multithreaded parent such as a
        # process that imported JAX); the ends are first moved to fds >= 10 so that they cannot collide with 3 and 4.
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser_read, from_browser_write)]
        for fd in (to_browser_read, from_browser_write):
            os.close(fd)
        trampoline = "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); " \
                     "os.execv(sys.argv[3], sys.argv[3:])"
        self.log_path = os.path.join(profile, "chromium.log")
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", trampoline, *map(str, ends), executable, "--headless", "--no-sandbox",
             "--disable-gpu", "--remote-debugging-pipe", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
             "--no-first-run", "--no-default-browser-check", "--mute-audio", "--hide-scrollbars",
             f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, pass_fds=ends)
        for fd in ends:
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._from_browser], [], [], remaining)[0]:
                raise TimeoutError(f"Chromium did not answer within {TIMEOUT_SECONDS:.0f} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                with open(self.log_path, "rb") as f:
                    log = f.read()[-2000:].decode(errors="replace")
                raise RuntimeError(f"Chromium closed the pipe (exit status {self.process.poll()}); "
                                   f"its log ends:\n{log}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send a command and return its result; events that arrive meanwhile are kept in `events`."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._receive(deadline))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._log.close()


def check_page(page: str | os.PathLike, screenshot: str | os.PathLike) -> dict[str, Any]:
    """Load `page` from disk in headless Chromium, wait for its media, save a full-page PNG at `screenshot`.

    Returns `{"audio": [{src, duration, readyState, error, canPlayWav}], "images": [{src, naturalWidth,
    naturalHeight}], "height": pixels}` as the page's DOM reports them.
    """
    executable = find_chromium()
    if executable is None:
        raise FileNotFoundError("no chromium executable on PATH")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        browser = _DevTools(executable, profile)
        try:
            target = next(t for t in browser.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
            session = browser.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
            browser.call("Page.enable", session)
            browser.call("Emulation.setDeviceMetricsOverride", session, width=WIDTH, height=900,
                         deviceScaleFactor=1, mobile=False)
            browser.call("Page.navigate", session, url=pathlib.Path(page).resolve().as_uri())
            browser.wait_event("Page.loadEventFired")
            result = browser.call("Runtime.evaluate", session, expression=_INSPECT, awaitPromise=True,
                                  returnByValue=True)
            if "exceptionDetails" in result:
                raise RuntimeError(f"the inspection script failed: {result['exceptionDetails']}")
            found = result["result"]["value"]
            shot = browser.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True,
                                clip={"x": 0, "y": 0, "width": WIDTH, "height": found["height"], "scale": 1})
            pathlib.Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            return found
        finally:
            browser.close()
