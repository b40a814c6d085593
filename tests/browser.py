"""Browser-test helpers: serve the real app on a free local port and drive the system Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"  # Debian's package (CI: apt-get install chromium); never downloaded
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def serving(app) -> Iterator[str]:
    """Serve `app` with werkzeug on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless system Chromium driven by Playwright."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()


def sign_in_page(page, url: str, name: str, password: str) -> None:
    """Open `url` (an /admin page), sign in on the form it redirects to, and land back on `url`."""
    page.goto(url)
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form button[type=submit]")
