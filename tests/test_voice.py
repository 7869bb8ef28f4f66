"""Asking by voice: `mnemo ask --audio FILE` and the web app's microphone button, heard by
a local server speaking OpenAI's transcription protocol; answers read aloud in the
browser with citations as "source one". The browser test feeds a generated WAV to
Debian's chromium as its microphone."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from docgen import wav
from mnemo.config import Settings, load_settings
from mnemo.server.app import create_app
from serverutil import build_library, free_port, serving
from transcriptionserver import MODEL, Script, serve
from uiutil import csrf

QUESTION = "When is Project Falcon's launch date?"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small served library; the test's settings add the transcription engine."""
    return build_library(tmp_path_factory.mktemp("voice")).home


def with_engine(home: Path, url: str | None) -> Settings:
    values = {"ingest": {"workers": 1}}
    if url is not None:
        values["transcription"] = {"base_url": url, "model": MODEL}  # type: ignore[dict-item]
    return load_settings(home, values)


def test_ask_audio_answers_the_spoken_question(cli, library: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recording = wav(tmp_path / "question.wav", seconds=3)
    script = Script(texts=[QUESTION])
    with serve(script) as url:
        env = {"MNEMO_TRANSCRIPTION__BASE_URL": url, "MNEMO_TRANSCRIPTION__MODEL": MODEL}
        shown = cli("--home", str(library), "ask", "--audio", str(recording), env=env, check=True)
    assert f"Heard: {QUESTION}" in shown.stdout
    assert "12 March 2027" in shown.stdout
    (upload,) = script.requests  # the recording went to the configured server, as it is
    assert upload.audio == recording.read_bytes()
    assert upload.filename == "question.wav"


def test_ask_audio_without_an_engine_or_a_server_is_a_one_line_error(
    cli, library: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    recording = wav(tmp_path / "question.wav", seconds=3)
    home = ("--home", str(library))
    unset = cli(*home, "ask", "--audio", str(recording))
    assert unset.returncode == 2
    assert "asking by voice needs a transcription engine" in unset.stderr
    assert "transcription.base_url" in unset.stderr and unset.stderr.count("\n") == 1

    dead = f"http://127.0.0.1:{free_port()}/v1"
    env = {"MNEMO_TRANSCRIPTION__BASE_URL": dead, "MNEMO_TRANSCRIPTION__MODEL": MODEL}
    down = cli(*home, "ask", "--audio", str(recording), env=env)
    assert down.returncode == 4
    assert "did not answer" in down.stderr and "Traceback" not in down.stderr

    neither = cli(*home, "ask")
    assert neither.returncode == 2 and "--audio" in neither.stderr
    both = cli(*home, "ask", QUESTION, "--audio", str(recording))
    assert both.returncode == 2


def test_the_chat_page_hears_a_recording_and_needs_its_form_token(
    library: Path, tmp_path: Path
) -> None:
    recording = wav(tmp_path / "question.wav", seconds=3).read_bytes()
    script = Script(texts=["Who is on the Falcon team?"])
    with (
        serve(script) as url,
        TestClient(create_app(with_engine(library, url)), base_url="http://127.0.0.1") as client,
    ):
        page = client.get("/ui/chat").text
        assert "Ask by voice" in page
        files = {"audio": ("question.webm", recording, "audio/webm")}
        refused = client.post("/ui/chat/transcribe", files=files)
        assert refused.status_code == 403  # no form token: another site cannot use it
        heard = client.post("/ui/chat/transcribe", files=files, data={"csrf": csrf(page)})
        assert heard.status_code == 200, heard.text
        assert heard.json() == {"text": "Who is on the Falcon team?"}
        empty = client.post(
            "/ui/chat/transcribe",
            files={"audio": ("question.webm", b"", "audio/webm")},
            data={"csrf": csrf(page)},
            headers={"X-Requested-With": "fetch"},  # as the page's script sends it
        )
        assert empty.status_code == 503
        assert "the recording is empty; record the question again" in empty.text
    assert len(script.requests) == 1  # the empty recording was never sent
    with TestClient(create_app(with_engine(library, None)), base_url="http://127.0.0.1") as client:
        assert "Ask by voice" not in client.get("/ui/chat").text


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def microphone_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    playwright = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    recording = wav(tmp_path_factory.mktemp("mic") / "microphone.wav", seconds=4)
    args = [
        "--no-sandbox",
        "--use-fake-ui-for-media-stream",  # grant the microphone without a prompt
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={recording}",
    ]
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=args)
        yield launched
        launched.close()


# The browser's speech synthesis has no voice in a headless test: what it was asked to
# say is kept on the page instead, to be read back.
_KEEP_SPOKEN = """
if (window.speechSynthesis) {
  window.speechSynthesis.speak = (utterance) => {
    document.documentElement.dataset.spoken = utterance.text;
  };
}
"""


@pytest.mark.slow
@pytest.mark.browser
def test_voice_question_in_the_browser_and_the_answer_read_aloud(
    microphone_browser: object, library: Path
) -> None:
    from playwright.sync_api import expect

    script = Script(texts=[QUESTION])
    with serve(script) as engine, serving(with_engine(library, engine)) as url:
        page = microphone_browser.new_page(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
        page.set_default_timeout(60_000)
        page.add_init_script(_KEEP_SPOKEN)
        page.goto(url + "/ui/chat")
        record = page.locator("#record")
        record.click()
        expect(record).to_have_attribute("aria-pressed", "true")
        page.wait_for_timeout(1500)  # speak for a moment
        record.click()
        expect(page.locator("#question")).to_have_value(QUESTION)
        expect(page.locator("#voice-status")).to_contain_text("Correct the text")
        (upload,) = script.requests
        assert len(upload.audio) > 1000 and upload.filename.startswith("question.")
        page.screenshot(path=str(Path(__file__).resolve().parents[1] / "docs/ui/voice.png"))
        page.click("#ask button[type=submit]")
        answer = page.locator(".turn:not(.streaming) .answer").last
        expect(answer).to_contain_text("12 March 2027")
        page.locator(".turn .speak").last.click()
        spoken = page.locator("html").get_attribute("data-spoken") or ""
        assert "12 March 2027" in spoken
        assert re.search(r"\(source one\)", spoken), spoken
        assert "[1]" not in spoken and "quoted" not in spoken
        page.close()
