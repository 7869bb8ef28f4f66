"""Transcription's pipeline overhead: seconds of audio indexed per second of wall clock.

The engine is the test suite's local server speaking OpenAI's
``/v1/audio/transcriptions`` protocol (``tests/transcriptionserver.py``): it answers
at once with one segment per 15 s of audio, so what is measured is Mnemo's part
(reading, the upload over loopback, grouping into time spans, chunking, the
catalog), not speech recognition. Ten WAV files of 5 minutes each (16 kHz mono,
generated with numpy) and five MP4 videos of 1 minute (their audio track taken
out with ffmpeg, which the figure for videos includes).

    python benchmarks/transcription.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from docgen import wav  # the test suite's generator and server
from transcriptionserver import MODEL, Script, serve


def run(folder: Path, home: Path, script: Script) -> tuple[float, int]:
    import mnemo
    from mnemo.config import load_settings

    with serve(script) as url:
        settings = load_settings(
            home,
            {
                "ingest": {"workers": 2},
                "embedding": {"backend": "none"},
                "transcription": {"base_url": url, "model": MODEL},
            },
        )
        started = time.perf_counter()
        report = mnemo.add([folder], settings)
        return time.perf_counter() - started, report.counts["indexed"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="mnemo-transcription-bench-"))
    try:
        audio = scratch / "audio"
        audio.mkdir()
        for n in range(10):
            wav(audio / f"memo-{n}.wav", 300)
        videos = scratch / "videos"
        videos.mkdir()
        sound = wav(scratch / "sound.wav", 60)
        for n in range(5):
            subprocess.run(
                [
                    "ffmpeg",
                    "-nostdin",
                    "-v",
                    "error",
                    "-f",
                    "lavfi",
                    "-i",
                    "color=c=blue:s=320x240:d=60",
                    "-i",
                    str(sound),
                    "-shortest",
                    "-c:v",
                    "libx264",
                    "-c:a",
                    "aac",
                    str(videos / f"visit-{n}.mp4"),
                ],
                check=True,
            )
        load_before = os.getloadavg()
        audio_s, audio_n = run(audio, scratch / "home-a", Script(texts=["Words."] * 20))
        video_s, video_n = run(
            videos, scratch / "home-v", Script(texts=["Words."] * 4, duration=60)
        )
        result = {
            "command": "python benchmarks/transcription.py",
            "cpus": os.cpu_count(),
            "loadavg_before": [round(v, 2) for v in load_before],
            "loadavg_after": [round(v, 2) for v in os.getloadavg()],
            "audio": {
                "files": audio_n,
                "audio_seconds": 3000,
                "wall_seconds": round(audio_s, 2),
                "audio_seconds_per_second": round(3000 / audio_s, 1),
            },
            "video": {
                "files": video_n,
                "audio_seconds": 300,
                "wall_seconds": round(video_s, 2),
                "audio_seconds_per_second": round(300 / video_s, 1),
            },
        }
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
