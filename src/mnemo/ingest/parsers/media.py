"""Audio and video: a timestamped transcript from an OpenAI-compatible transcription server.

The audio goes to ``transcription.base_url`` only (``/audio/transcriptions``,
``response_format=verbose_json``); with none configured, the file is skipped
with a reason that says how to configure one. A video's audio track is taken
out first with ffmpeg (Opus in Ogg, mono, 16 kHz: what speech recognisers
resample to anyway). The transcript's segments are grouped into spans of
about half a minute; each span is a section headed by its time
(``@ 12:31–12:58``), so every passage cites where it is in the recording.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from mnemo.ingest.parsers.base import (
    DocumentBuilder,
    ParsedDocument,
    ParseFailed,
    ParseLimits,
    ParseRetry,
    ParseSkipped,
    TranscriptionOptions,
    need_time,
)

name = "transcript"
AUDIO_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "flac": "audio/flac",
    "opus": "audio/opus",
    "webm": "video/webm",
    "mp4": "video/mp4",
    "mkv": "video/x-matroska",
    "mov": "video/quicktime",
}
VIDEO = {"mp4", "mkv", "webm", "mov"}
#: A span of the transcript closes after this many seconds or characters.
SPAN_SECONDS = 30.0
SPAN_CHARS = 600
_FFMPEG_SECONDS = 600.0


def clock(seconds: float) -> str:
    """12:31, or 1:02:05 past an hour."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def not_configured() -> str:
    return (
        "no transcription engine configured: set transcription.base_url to an "
        "OpenAI-compatible server (e.g. a faster-whisper server or LocalAI at "
        "http://localhost:8000/v1, or https://api.openai.com/v1 with transcription.api_key), "
        "then run `mnemo sync`"
    )


def audio_track(data: bytes, suffix: str, options: TranscriptionOptions) -> bytes:
    """The video's audio as Opus in Ogg, by ffmpeg (files, since MP4 needs seeking)."""
    need_time(_FFMPEG_SECONDS)
    with tempfile.TemporaryDirectory(prefix="mnemo-media-") as folder:
        source, target = Path(folder) / f"in{suffix}", Path(folder) / "audio.ogg"
        source.write_bytes(data)
        command = [options.ffmpeg, "-nostdin", "-v", "error", "-i", str(source), "-vn", "-ac", "1"]
        command += ["-ar", "16000", "-c:a", "libopus", "-b:a", "24k", "-f", "ogg", str(target)]
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=_FFMPEG_SECONDS, check=False
            )
        except FileNotFoundError as exc:
            raise ParseSkipped(
                f"reading a video's audio needs ffmpeg, which was not found "
                f"(transcription.ffmpeg = {options.ffmpeg!r}): install it (Debian/Ubuntu: "
                "`apt-get install ffmpeg`, macOS: `brew install ffmpeg`) or set "
                "transcription.ffmpeg to its path"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise ParseSkipped(
                f"taking the audio out of the video took over {_FFMPEG_SECONDS:g} s"
            ) from exc
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        if done.returncode != 0 or not target.exists():
            if any(
                "does not contain any stream" in m or "matches no streams" in m for m in message
            ):
                raise ParseSkipped("the video has no audio track")
            last = message[-1] if message else f"exit status {done.returncode}"
            raise ParseFailed(f"ffmpeg could not read the video ({last}); is it complete?")
        audio = target.read_bytes()
    if not audio:
        raise ParseSkipped("the video has no audio track")
    return audio


def transcribe(audio: bytes, filename: str, options: TranscriptionOptions) -> Any:
    """The server's verbose_json transcript (segments with start, end and text)."""
    import openai

    assert options.base_url is not None
    client = openai.OpenAI(
        base_url=options.base_url,
        api_key=options.api_key or "not-needed",  # local servers need none
        timeout=options.timeout,
        max_retries=1,
    )
    need_time(options.timeout * 2)
    try:
        return client.audio.transcriptions.create(
            model=options.model,
            file=(filename, audio),
            response_format="verbose_json",
            timestamp_granularities=["segment"],
        )
    except (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError) as exc:
        raise ParseRetry(
            f"transcription server {options.base_url} did not answer ({type(exc).__name__}); "
            "start it or fix transcription.base_url, then run `mnemo sync`"
        ) from exc
    except openai.InternalServerError as exc:
        raise ParseRetry(
            f"transcription server {options.base_url} failed ({exc.status_code}); "
            "`mnemo sync` tries again"
        ) from exc
    except openai.APIStatusError as exc:
        hint = {
            401: "check transcription.api_key",
            404: "check transcription.base_url (it ends in /v1) and transcription.model",
            413: "the file is too large for this server",
        }.get(exc.status_code, "the server refused it")
        raise ParseFailed(
            f"transcription server {options.base_url} answered {exc.status_code} ({hint})"
        ) from exc


def segment_texts(transcript: Any) -> list[str]:
    """The transcript's segments' texts, in order."""
    return [text for _, _, text in _segments(transcript)]


def _segments(transcript: Any) -> list[tuple[float, float, str]]:
    segments = getattr(transcript, "segments", None) or []
    found = []
    for segment in segments:
        get = segment.get if isinstance(segment, dict) else lambda k, s=segment: getattr(s, k, None)
        text = " ".join(str(get("text") or "").split())
        if text:
            found.append((float(get("start") or 0.0), float(get("end") or 0.0), text))
    return found


def parse(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    options = limits.transcription
    if options.base_url is None:
        raise ParseSkipped(not_configured())
    suffix = path.suffix.lower()
    if suffix.lstrip(".") in VIDEO:
        audio, filename = audio_track(data, suffix, options), path.stem + ".ogg"
    else:
        audio, filename = data, path.name
    transcript = transcribe(audio, filename, options)
    builder = DocumentBuilder(limits.max_text_chars)
    segments = _segments(transcript)
    spans: list[list[float]] = []
    if segments:
        group: list[tuple[float, float, str]] = []

        def close() -> None:
            start, end = group[0][0], group[-1][1]
            builder.heading(1, f"@ {clock(start)}–{clock(end)}")
            builder.block(" ".join(text for _, _, text in group))
            spans.append([round(start, 2), round(end, 2)])
            group.clear()

        for segment in segments:
            group.append(segment)
            chars = sum(len(t) for _, _, t in group)
            if group[-1][1] - group[0][0] >= SPAN_SECONDS or chars >= SPAN_CHARS:
                close()
        if group:
            close()
    else:  # a server that gives no segments: the text, without times
        builder.block(str(getattr(transcript, "text", "") or ""))
    parsed = builder.build(title=path.name, markup="markdown", metadata={})
    if not parsed.text.strip():
        raise ParseSkipped("the transcript is empty (no speech found)")
    duration = getattr(transcript, "duration", None)
    if duration:
        parsed.metadata["duration_seconds"] = round(float(duration), 2)
    language = getattr(transcript, "language", None)
    if language:
        parsed.metadata["language"] = str(language)
    parsed.metadata["transcribed_by"] = f"{options.model} at {options.base_url}"
    parsed.metadata["time_spans"] = spans
    return parsed
