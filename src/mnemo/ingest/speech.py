"""A spoken question as text: the recording goes to the configured transcription server.

The same OpenAI-compatible ``/audio/transcriptions`` server that transcribes audio
files for the index (``transcription.*`` settings) hears questions asked by voice
(`mnemo ask --audio FILE`, the web app's microphone button). The audio is sent to
that URL only, and nowhere when none is configured.
"""

from __future__ import annotations

from mnemo.config import Settings
from mnemo.errors import ConfigError, TranscriptionError
from mnemo.ingest.options import transcription_options
from mnemo.ingest.parsers.base import ParseFailed, ParseRetry, ParseSkipped
from mnemo.ingest.parsers.media import not_configured, segment_texts, transcribe

#: A spoken question is short; a longer recording is refused before it is sent.
MAX_AUDIO_BYTES = 25 * 1024 * 1024


def hear(audio: bytes, filename: str, settings: Settings) -> str:
    """The words spoken in ``audio`` (a file's bytes: WAV, MP3, WebM, Ogg…)."""
    options = transcription_options(settings)
    if options.base_url is None:
        raise ConfigError(f"asking by voice needs a transcription engine: {not_configured()}")
    if not audio:
        raise TranscriptionError(f"{filename}: the recording is empty; record the question again")
    if len(audio) > MAX_AUDIO_BYTES:
        raise TranscriptionError(
            f"{filename}: {len(audio) / 2**20:.1f} MiB of audio is too long for a question "
            f"(at most {MAX_AUDIO_BYTES // 2**20} MiB); type it, or add the recording with "
            "`mnemo add` to index it"
        )
    try:
        transcript = transcribe(audio, filename, options)
    except (ParseRetry, ParseFailed, ParseSkipped) as exc:
        raise TranscriptionError(str(exc)) from exc
    text = " ".join(segment_texts(transcript)).strip()
    if not text:
        text = " ".join(str(getattr(transcript, "text", "") or "").split())
    if not text:
        raise TranscriptionError(
            f"{filename}: no words were heard; speak closer to the microphone, or type it"
        )
    return text
