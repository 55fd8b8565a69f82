"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``).

No browser library: Chromium reads commands on its fd 3 and writes answers and events
on its fd 4, each a JSON object ending in a NUL byte. The page is driven as a person
would: text typed into a focused field, a click at the middle of a button, files set on
a file input (what choosing them in the dialog does); the page's HTML is read back from
the DOM. With ``javascript=False`` the page's scripts do not run (meta refresh still
does), so the no-JavaScript flow is tested in the same browser.

Used by tests/grader/serve/test_app_browser.py and docs/screenshots/make_service_screenshots.py.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--hide-scrollbars",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--remote-debugging-pipe",
)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(AssertionError):
    pass


def _high(fd: int) -> int:
    """``fd`` moved to a number above 10."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class Browser:
    """One Chromium; :meth:`page` opens a tab in a fresh browser context (its own cookies)."""

    def __init__(self, profile: Path) -> None:
        executable = chromium()
        if executable is None:
            raise BrowserError("chromium is not installed (apt-get install chromium)")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # above 4, so the shell's redirections below cannot overwrite one with the other
        to_chrome_r, from_chrome_w = (_high(to_chrome_r), _high(from_chrome_w))
        profile.mkdir(parents=True, exist_ok=True)
        self.log = profile / "chromium.log"
        # bash puts the pipes on the fds Chromium expects (3: commands, 4: answers)
        self.proc = subprocess.Popen(
            [
                "bash",  # dash takes only one-digit fds in redirections
                "-c",
                f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}',
                "bash",
                executable,
                *FLAGS,
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "wb"),  # noqa: SIM115 (the child holds it)
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    # -- the protocol -------------------------------------------------------------------

    def _read(self, timeout: float) -> dict[str, Any] | None:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_chrome], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise BrowserError(
                    f"chromium closed its pipe (it exited): {self.log.read_text()[-2000:]}"
                )
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(message))

    def call(
        self, method: str, session: str | None = None, timeout: float = 60, **params: Any
    ) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            answer = self._read(max(left, 0))
            if answer is None:
                raise BrowserError(f"no answer to {method} within {timeout} s")
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return dict(answer.get("result", {}))
            self.events.append(answer)

    def pump(self, seconds: float) -> None:
        """Collect events for ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            event = self._read(left)
            if event is not None:
                self.events.append(event)

    def page(self, width: int = 1280, height: int = 900, javascript: bool = True) -> Page:
        context = self.call("Target.createBrowserContext")["browserContextId"]
        target = self.call("Target.createTarget", url="about:blank", browserContextId=context)
        session = self.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)[
            "sessionId"
        ]
        return Page(self, session, width, height, javascript)

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.call("Browser.close", timeout=10)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self._to_chrome)
        os.close(self._from_chrome)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class Page:
    """One tab. Selectors are CSS selectors; every method fails by name when one matches nothing."""

    def __init__(
        self, browser: Browser, session: str, width: int, height: int, javascript: bool
    ) -> None:
        self.browser, self.session, self.width, self.height = browser, session, width, height
        for domain in ("Page", "Runtime", "Log", "DOM"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        if not javascript:
            self.call("Emulation.setScriptExecutionDisabled", value=True)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self.browser.call(method, self.session, **params)

    def goto(self, url: str, timeout: float = 60) -> None:
        """Navigate and wait for the page's load event."""
        seen = len(self.browser.events)
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while not any(
            e.get("method") == "Page.loadEventFired" and e.get("sessionId") == self.session
            for e in self.browser.events[seen:]
        ):
            if time.monotonic() > deadline:
                raise BrowserError(f"{url} did not load within {timeout} s")
            self.browser.pump(0.1)

    def html(self) -> str:
        root = self.call("DOM.getDocument", depth=0)["root"]["nodeId"]
        try:
            return str(self.call("DOM.getOuterHTML", nodeId=root)["outerHTML"])
        except BrowserError:  # the document changed under us (a reload): ask again
            return ""

    def url(self) -> str:
        history = self.call("Page.getNavigationHistory")
        return str(history["entries"][history["currentIndex"]]["url"])

    def node(self, selector: str) -> int:
        root = self.call("DOM.getDocument", depth=0)["root"]["nodeId"]
        node = int(self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"])
        if not node:
            raise BrowserError(f"nothing on {self.url()} matches {selector!r}")
        return node

    def type(self, selector: str, text: str) -> None:
        self.call("DOM.focus", nodeId=self.node(selector))
        self.call("Input.insertText", text=text)

    def files(self, selector: str, *paths: Path) -> None:
        self.call(
            "DOM.setFileInputFiles", nodeId=self.node(selector), files=[str(p) for p in paths]
        )

    def click(self, selector: str) -> None:
        """A left click at the middle of the element (scrolled into view first)."""
        node = self.node(selector)
        self.call("DOM.scrollIntoViewIfNeeded", nodeId=node)
        quad = self.call("DOM.getContentQuads", nodeId=node)["quads"][0]
        x, y = sum(quad[0::2]) / 4, sum(quad[1::2]) / 4
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def wait(self, done: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        """Poll the DOM until ``done(html)``; the html."""
        deadline = time.monotonic() + timeout
        while True:
            html = self.html()
            if html and done(html):
                return html
            if time.monotonic() > deadline:
                raise BrowserError(f"waited {timeout} s for {what}; the page is:\n{html[-3000:]}")
            self.browser.pump(0.2)

    def errors(self) -> list[str]:
        """Uncaught exceptions, console errors and failed loads this page logged."""
        out = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(str(params["exceptionDetails"].get("text")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                out.append(str(params.get("args")))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                out.append(str(params["entry"].get("text")) + " " + params["entry"].get("url", ""))
        return out

    def screenshot(self, png: Path, full: bool = True) -> None:
        """A PNG of the page, the whole of its height when ``full``."""
        params: dict[str, Any] = {"format": "png"}
        if full:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params |= {
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": self.width,
                    "height": max(size["height"], self.height),
                    "scale": 1,
                },
            }
        png.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", **params)["data"]))
