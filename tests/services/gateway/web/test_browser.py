"""The web UI in a real headless Chromium against `vigil run`, covering the paper's test tables:
log in (correct, empty, wrong), sign up (new, used username, used email), the live feed with
boxes, an upload with its report, the repository (list, date search, clip playback, date and
time, culprits, delete). Each test keeps a screenshot in the CI log folder."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.servers import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ADMIN = {"username": "operator", "email": "operator@example.org", "password": "a long passphrase"}
LOGS = Path(os.environ.get("VIGIL_CI_LOGS", ".ci/logs")) / "browser"


@pytest.fixture(scope="module")
def vigil(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[str]:
    """`vigil run` with a fight clip looping as camera-1, as a user starts it."""
    work = tmp_path_factory.mktemp("vigil-run")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    # The analysis rate stays the classifier's own (10 fps), as the model was trained.
    env.update(VIGIL_DATA_DIR=str(data_dir),
               VIGIL_REPOSITORY__PRE_ROLL_S="1", VIGIL_REPOSITORY__POST_ROLL_S="1")
    clip = data_dir / "surveillance-fight/fight/fi010.mp4"
    with (work / "vigil.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vigil.cli", "run", "--data-dir", str(work / "data"),
             "--port", str(port), "--source", str(clip)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, (work / "vigil.log").read_text()[-3000:]
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "vigil run did not get ready"
        time.sleep(0.5)
    yield url
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0, (work / "vigil.log").read_text()[-3000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, vigil: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(base_url=vigil, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    LOGS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(LOGS / f"{request.node.name}.png"), full_page=True)
    context.close()


def log_in(
    page: Page, username: str = ADMIN["username"], password: str = ADMIN["password"]
) -> None:
    page.goto("/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def signed_in(page: Page) -> Page:
    log_in(page)
    expect(page.get_by_test_id("current-user")).to_contain_text(ADMIN["username"])
    return page


def test_sign_up_opens_the_live_page(page: Page) -> None:
    page.goto("/signup")
    page.get_by_test_id("signup-username").fill(ADMIN["username"])
    page.get_by_test_id("signup-email").fill(ADMIN["email"])
    page.get_by_test_id("signup-password").fill(ADMIN["password"])
    page.get_by_test_id("signup-submit").click()
    expect(page).to_have_url(re.compile(r"/live"))
    expect(page.get_by_test_id("current-user")).to_have_attribute("data-role", "admin")


@pytest.mark.parametrize(
    ("username", "email", "field", "message"),
    [(ADMIN["username"], "other@example.org", "signup-username-error", "already used"),
     ("someone-else", ADMIN["email"], "signup-email-error", "already used")],
)
def test_sign_up_with_a_used_username_or_email(
    page: Page, username: str, email: str, field: str, message: str
) -> None:
    page.goto("/signup")
    page.get_by_test_id("signup-username").fill(username)
    page.get_by_test_id("signup-email").fill(email)
    page.get_by_test_id("signup-password").fill("another passphrase")
    page.get_by_test_id("signup-submit").click()
    expect(page.get_by_test_id(field)).to_contain_text(message)


def test_log_in_with_empty_fields(page: Page) -> None:
    page.goto("/login")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-username-error")).to_be_visible()
    expect(page.get_by_test_id("login-password-error")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login"))


def test_log_in_with_wrong_data(page: Page) -> None:
    log_in(page, password="not the passphrase")
    expect(page.get_by_test_id("login-error")).to_contain_text("Wrong username or password")


def test_log_in_with_correct_data(page: Page) -> None:
    signed_in(page)
    expect(page).to_have_url(re.compile(r"/live"))


def test_live_feed_draws_boxes_on_the_chosen_camera(page: Page) -> None:
    signed_in(page)
    page.get_by_test_id("nav-live").click()
    page.get_by_test_id("live-camera-select").select_option("camera-1")
    canvas = page.get_by_test_id("live-canvas")
    expect(page.get_by_test_id("live-camera-status")).to_have_attribute("data-status", "live")
    # Frames arrive with their overlay; wait for one with people boxed.
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=live-canvas]')"
        "?.dataset.boxCount || 0) > 0", timeout=120_000,
    )
    assert int(canvas.get_attribute("data-box-count") or 0) > 0
    expect(page.get_by_test_id("live-person").first).to_be_visible()


def test_upload_gives_a_report_with_culprits_and_a_repository_record(
    page: Page, data_dir: Path
) -> None:
    signed_in(page)
    # The live camera would compete with the upload for the CPU: an admin stops it first.
    page.goto("/cameras")
    page.get_by_test_id("camera-row").first.get_by_test_id("camera-stop").click()
    page.goto("/upload")
    page.get_by_test_id("upload-input").set_input_files(
        str(data_dir / "surveillance-fight/fight/fi010.mp4"))
    expect(page.get_by_test_id("upload-status")).to_have_attribute(
        "data-phase", "done", timeout=300_000)
    report = page.get_by_test_id("upload-report")
    expect(report).to_have_attribute("data-violent", "true")
    expect(page.get_by_test_id("report-event").first).to_be_visible()
    expect(page.get_by_test_id("culprit-list").first.locator("img").first).to_be_visible()
    page.get_by_test_id("report-event-link").first.click()
    expect(page.get_by_test_id("event-detail")).to_be_visible()


def test_repository_lists_searches_plays_and_deletes(page: Page) -> None:
    signed_in(page)
    page.get_by_test_id("nav-repository").click()
    rows = page.get_by_test_id("event-row")
    expect(rows.first).to_be_visible(timeout=60_000)
    count = rows.count()
    started = rows.first.get_by_test_id("event-row-time").get_attribute("datetime") or ""
    day = datetime.fromisoformat(started).astimezone().date().isoformat()

    page.get_by_test_id("repo-date").fill(day)  # search by the event's day
    page.get_by_test_id("repo-search").click()
    expect(rows.first).to_be_visible()
    page.get_by_test_id("repo-date").fill("2001-01-01")  # a day without events
    page.get_by_test_id("repo-search").click()
    expect(page.get_by_test_id("event-list-empty")).to_be_visible()
    page.get_by_test_id("repo-clear").click()
    expect(rows).to_have_count(count)

    rows.first.click()
    expect(page.get_by_test_id("event-started")).to_have_attribute("datetime", started)
    expect(page.get_by_test_id("culprit").first).to_be_visible()
    culprit = page.get_by_test_id("culprit").first
    assert (culprit.get_by_test_id("culprit-face").count()
            + culprit.get_by_test_id("culprit-face-missing").count()) == 1
    page.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=event-clip]');"
        " if (v && v.paused) v.play().catch(() => {}); return v && v.readyState >= 2; }",
        timeout=30_000,
    )
    page.wait_for_function(
        "() => document.querySelector('[data-testid=event-clip]').currentTime > 0",
        timeout=30_000,
    )
    page.get_by_test_id("event-delete").click()
    page.get_by_test_id("confirm-dialog").get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("event-deleted-notice")).to_be_visible()
    expect(rows).to_have_count(count - 1)
