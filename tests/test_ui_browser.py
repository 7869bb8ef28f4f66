"""The web app in a real browser: Debian's chromium driven by Playwright (no browser is
ever downloaded; without chromium these tests are skipped). Each main page's
screenshot goes to docs/ui/ for the README."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmserver import MODEL, Script, serve_openai
from mnemo.catalog import Catalog
from mnemo.server.auth import create_key
from serverutil import serving
from uiutil import build

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"
    ),
]
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "ui"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("browser")
    settings = build(root)
    with serving(settings) as url:
        yield url, root


def new_page(browser: object, width: int = 1200, **options: object) -> object:
    page = browser.new_page(viewport={"width": width, "height": 900}, **options)  # type: ignore[attr-defined]
    page.set_default_timeout(60_000)
    return page


def shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_upload_a_pdf_and_a_markdown_file_and_watch_the_job_finish(
    browser: object, site: tuple[str, Path], tmp_path: Path
) -> None:
    from docgen import pdf

    url, _ = site
    report = pdf(tmp_path / "harbour.pdf", [["Harbour seals rest on the sandbanks at low tide."]])
    note = tmp_path / "kelp.md"
    note.write_text("# Kelp\n\nKelp forests grow half a metre a day in good light.\n")
    page = new_page(browser)
    page.goto(url + "/")
    page.set_input_files("#files", [str(report), str(note)])
    page.click("#upload button")
    # One request per file: a message for each, as each upload finishes.
    expect(page.locator("#messages .msg")).to_have_count(2)
    assert "2 files uploaded" not in page.inner_text("#messages")
    assert page.inner_text("#messages").count("1 file uploaded") == 2
    # The page's policy forbids eval, so waits use locators (Playwright's own script).
    page.locator("#jobs .job").first.wait_for()
    page.locator("#jobs[data-poll]").wait_for(state="detached", timeout=120_000)
    assert page.locator('#jobs .job[data-state="done"]').count() >= 1
    page.reload()
    assert page.locator("table.docs").inner_text().count("indexed") >= 5
    shot(page, "library")
    # Measured with the policy bypassed (evaluate runs script in the page).
    phone = browser.new_page(viewport={"width": 390, "height": 844}, bypass_csp=True)  # type: ignore[attr-defined]
    phone.goto(url + "/ui/library")
    shot(phone, "library-phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # no sideways scroll


def test_keyboard_only_search_then_open_a_result(browser: object, site: tuple[str, Path]) -> None:
    url, _ = site
    page = new_page(browser)
    page.goto(url + "/ui/search")
    page.keyboard.type("turbine megawatts")  # the query box has focus when the page opens
    page.keyboard.press("Enter")
    page.wait_for_selector("ol.hits li.hit")
    assert page.locator("ol.hits mark").first.inner_text().lower() in ("turbine", "megawatts")
    shot(page, "search")
    first = page.locator("ol.hits a.open").first
    for _ in range(40):  # Tab until the first result has focus
        page.keyboard.press("Tab")
        try:
            expect(first).to_be_focused(timeout=100)
            break
        except AssertionError:
            continue
    else:
        raise AssertionError("the first result cannot be reached with Tab")
    expect(first).to_have_css("outline-style", "solid")  # focus is visible
    with page.expect_response(lambda r: "/ui/page.png" in r.url) as image:
        page.keyboard.press("Enter")
    assert image.value.status == 200 and image.value.headers["content-type"] == "image/png"
    expect(page.locator("#page-image")).to_be_visible()
    assert "cited passage highlighted" in page.get_attribute("#page-image", "alt")
    assert "page 1 of 2" in page.inner_text(".pager")
    shot(page, "viewer-pdf")


def test_a_citation_opens_the_highlighted_passage_on_the_right_pdf_page(
    browser: object, site: tuple[str, Path]
) -> None:
    url, _ = site
    page = new_page(browser)
    page.goto(url + "/ui/chat")
    page.fill("#question", "How many megawatts did the turbine array produce at peak flow?")
    page.click("#ask button")
    page.wait_for_selector("#turns article.turn:not(.streaming)")
    assert "Extractive answer" in page.inner_text("#turns")
    shot(page, "chat")
    chip = page.locator("#turns a.chip").first
    assert chip.inner_text().split()[-1] in ("supported", "quoted")
    with page.expect_response(lambda r: "/ui/page.png" in r.url) as image:
        chip.click()
    assert image.value.status == 200 and "chunk=" in image.value.url
    expect(page.locator("#page-image")).to_be_visible()
    caption = page.inner_text("figcaption")
    assert "Cited passage" in caption and "42 megawatts" in caption


def test_a_read_key_sees_no_write_controls_and_a_wrong_key_is_refused(
    browser: object, tmp_path: Path
) -> None:
    settings = build(tmp_path)
    with Catalog(settings.catalog_path) as catalog:
        _, read = create_key(catalog, "read", "reader")
    with serving(settings) as url:
        page = new_page(browser)
        page.goto(url + "/")
        assert page.url.endswith("/ui/signin")
        shot(page, "signin")
        page.fill("#key", "mnemo_00000000_wrong")
        page.click("form button")
        assert "unknown or revoked" in page.inner_text(".msg.error")
        page.fill("#key", read)
        page.click("form button")
        page.wait_for_url("**/ui/library")
        assert "reader · read" in page.inner_text(".who")
        for selector in ("#files", "#path", "#new-collection", "text=Remove", "text=Delete"):
            assert page.locator(selector).count() == 0
        page.goto(url + "/ui/chat")
        assert page.locator("text=Delete").count() == 0
        page.click("text=Sign out")
        page.wait_for_url("**/ui/signin")


ANSWER = (
    "At peak flow the turbine array produced 42 megawatts [1]. "
    "Maintenance divers inspected the blades every spring [1]."
)


def test_settings_then_a_streamed_answer_from_the_scripted_model_opens_its_passage(
    browser: object, tmp_path: Path
) -> None:
    """The model is set on the settings page, tested, then streams an answer word by word;
    its citation opens the PDF page with the passage highlighted."""
    settings = build(tmp_path)
    script = Script(replies=["ready", ANSWER], pace=0.25)
    with serving(settings) as url, serve_openai(script) as llm_url:
        page = new_page(browser)
        page.goto(url + "/ui/settings")
        page.select_option("#llm-provider", "openai-compatible")
        page.fill("#llm-base-url", llm_url)
        page.fill("#llm-model", MODEL)
        page.fill("#llm-key", "sk-browser-test-0123456789")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".msg.flash")).to_contain_text("saved the language model settings")
        assert "sk-browser-test-0123456789" not in page.content()
        page.click("text=Test the connection")
        expect(page.locator("#llm-check")).to_contain_text("Reply: ready")
        shot(page, "settings")

        page.goto(url + "/ui/chat")
        page.fill("#question", "How many megawatts did the turbine array produce at peak flow?")
        page.click("#ask button[type=submit]")
        streaming = page.locator("#turns article.turn.streaming .answer")
        expect(streaming).to_contain_text("turbine array", timeout=30_000)
        partial = streaming.inner_text()
        assert "spring" not in partial, "the whole answer arrived at once"
        expect(streaming).to_contain_text("megawatts")  # more words keep coming
        assert len(streaming.inner_text()) > len(partial)
        final = page.locator("#turns article.turn:not(.streaming)")
        expect(final).to_contain_text("every spring", timeout=30_000)
        expect(final.locator(".label")).to_have_text(f"Written by openai-compatible:{MODEL}")
        expect(page.locator(".conversations li.current a")).to_contain_text("How many megawatts")
        chip = final.locator("a.chip").first
        assert chip.inner_text().split()[-1] == "supported"
        shot(page, "chat-model")
        with page.expect_response(lambda r: "/ui/page.png" in r.url) as image:
            chip.click()
        assert image.value.status == 200 and "chunk=" in image.value.url
        expect(page.locator("#page-image")).to_be_visible()
        assert "cited passage highlighted" in page.get_attribute("#page-image", "alt")
        assert "42 megawatts" in page.inner_text("figcaption")


def test_dark_theme_and_a_reopened_conversation(browser: object, site: tuple[str, Path]) -> None:
    url, _ = site
    page = new_page(browser, color_scheme="dark")
    page.goto(url + "/ui/chat")
    page.fill("#question", "Which animals are the largest ever known?")
    page.click("#ask button[type=submit]")
    page.wait_for_selector("#turns article.turn:not(.streaming)")
    page.reload()  # the conversation from the store: chips and sources as they were
    expect(page.locator("#turns a.chip").first).to_be_visible()
    expect(page.locator("text=Export as Markdown")).to_be_visible()
    expect(page.locator("body")).to_have_css("background-color", "rgb(22, 23, 26)")  # --bg
    shot(page, "chat-dark")
    page.goto(url + "/ui/library")
    shot(page, "library-dark")
