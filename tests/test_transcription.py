"""Audio and video through a local server speaking OpenAI's transcription protocol."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from docgen import wav
from mnemo import api
from mnemo.config import Settings
from stored import stored
from transcriptionserver import MODEL, Script, serve

SPEECH = [
    "Welcome to the harbour board meeting.",
    "First item: the lighthouse lanterns.",
    "The keeper asked for copper lanterns.",
    "Second item: dredging the channel.",
    "The dredger arrives in March.",
    "Any other business? None. Meeting closed.",
]


def engine(make_settings: Callable[..., Settings], url: str, **more: object) -> Settings:
    return make_settings(transcription={"base_url": url, "model": MODEL, **more})


def test_audio_becomes_timestamped_passages_cited_by_time_span(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    cli,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    path = wav(tmp_path / "meeting.wav", seconds=90)
    script = Script(texts=SPEECH, key="sk-local")
    with serve(script) as url:
        settings = engine(make_settings, url, api_key="sk-local")
        report = api.add([path], settings)
        assert report.counts["indexed"] == 1, report.outcomes
    # The audio was sent as it is, once, to the configured server, with its key.
    (upload,) = script.requests
    assert upload.audio == path.read_bytes() and upload.filename == "meeting.wav"
    assert upload.fields["response_format"] == "verbose_json"
    assert upload.authorization == "Bearer sk-local"

    doc, chunks = stored(settings, path)
    assert doc.media_type == "audio/wav" and doc.meta["duration_seconds"] == 90
    # 15 s segments, grouped into spans of about half a minute.
    spans = [c.heading_path for c in chunks]
    assert spans == [["@ 0:00–0:30"], ["@ 0:30–1:00"], ["@ 1:00–1:30"]]
    assert "copper lanterns" in chunks[1].text

    # The CLI cites the passage by file and time span.
    monkeypatch.setenv("MNEMO_TRANSCRIPTION__BASE_URL", url)
    monkeypatch.setenv("MNEMO_EMBEDDING__BACKEND", "none")
    out = cli("search", "copper lanterns").stdout
    assert "@ 0:30–1:00" in out
    out = cli("ask", "What did the keeper ask for?").stdout
    assert "meeting.wav @ 0:30–1:00" in out


def test_without_an_engine_audio_is_skipped_with_how_to_configure_one(
    tmp_path: Path, settings: Settings
) -> None:
    path = wav(tmp_path / "memo.wav", seconds=2)
    report = api.add([path], settings)
    assert report.counts["skipped"] == 1 and report.exit_code == 0
    doc, _ = stored(settings, path)
    assert "transcription.base_url" in (doc.reason or "") and "\n" not in (doc.reason or "")


def test_an_unreachable_server_fails_the_file_until_a_sync_finds_it_up(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = wav(tmp_path / "memo.wav", seconds=4)
    settings = engine(make_settings, f"http://127.0.0.1:{port}/v1")
    report = api.add([path], settings)
    assert report.counts["failed"] == 1
    doc, _ = stored(settings, path)
    assert f"127.0.0.1:{port}/v1 did not answer" in (doc.reason or "")
    with serve(Script(texts=["Buy more basil seeds."])) as url:
        settings = engine(make_settings, url)
        api.sync(settings)  # the file did not change, but it failed for a passing reason
    doc, chunks = stored(settings, path)
    assert doc.status == "indexed" and "basil seeds" in chunks[0].text


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_a_video_sends_only_its_audio_track(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    sound = wav(tmp_path / "sound.wav", seconds=12)
    video = tmp_path / "site-visit.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=blue:s=64x64:d=12",
            "-i",
            str(sound),
            "-shortest",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            str(video),
        ],
        check=True,
    )
    script = Script(texts=["The crane stands on the north quay."], duration=12)
    with serve(script) as url:
        settings = engine(make_settings, url)
        report = api.add([video], settings)
        assert report.counts["indexed"] == 1, report.outcomes
    (upload,) = script.requests
    assert upload.filename == "site-visit.ogg" and upload.audio.startswith(b"OggS")
    assert len(upload.audio) < video.stat().st_size  # the picture stayed home
    doc, chunks = stored(settings, video)
    assert doc.media_type == "video/mp4"
    assert chunks[0].heading_path == ["@ 0:00–0:12"] and "north quay" in chunks[0].text
