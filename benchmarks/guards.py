"""Guards: personal-data recall and precision, and what the guards cost per question.

1. 500 generated snippets each holding one planted personal value (Faker, several
   locales, fixed seed) and 500 generated snippets holding none but full of numbers
   that look alike (dates, prices, versions, order numbers, ISBNs). A finding that
   overlaps the planted value is a true positive; any other finding is a false one.
   Recall is given per kind, so what the recognisers cannot find (bare names, cities)
   shows as such.
2. How often real text is flagged: 500 msmarco passages (they do contain real phone
   numbers and addresses, so this is a flag rate, not a precision).
3. Overhead per question: masking a prompt of a question and 8 msmarco passages (what
   `ask` sends), the injection scan of those passages, and the output check; and the
   first use in a fresh process (imports and building the recognisers).

    python benchmarks/guards.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import string
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from faker import Faker

from mnemo.generation import injection, pii
from mnemo.generation.prompts import SYSTEM
from mnemo.retrieval.context import ContextPassage

SEED = 20261202
DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "data"
TEMPLATES = [
    "Please contact {v} before Friday about the renewal.",
    "The form lists {v} as the reference for this account.",
    "According to the file, {v} was recorded on the intake sheet.",
    "Send the signed copy to {v} and keep one for the archive.",
    "Her details ({v}) were copied into the spreadsheet by mistake.",
    "Use {v} when you call the help desk.",
]


def _token(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _nino(rng: random.Random) -> str:
    """A UK National Insurance number of a valid form (Faker's en_GB gives the reserved
    "ZZ" prefix, which no real number has)."""
    first, second = "ABCEGHJKLMNPRSTWXYZ", "ABCEGHJKLMNPRSTWXYZ"
    while (prefix := rng.choice(first) + rng.choice(second)) in (
        "BG",
        "GB",
        "NK",
        "KN",
        "TN",
        "NT",
    ):
        pass
    digits = " ".join(f"{rng.randint(0, 99):02d}" for _ in range(3))
    return f"{prefix} {digits} {rng.choice('ABCD')}"


def planted_kinds(rng: random.Random) -> dict[str, Callable[[], str]]:
    fakers = {loc: Faker(loc) for loc in ("en_US", "en_GB", "de_DE", "es_ES", "it_IT", "fr_FR")}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(SEED + i)
    us, gb, de, es, it, fr = fakers.values()
    upper, alnum = string.ascii_uppercase + string.digits, string.ascii_letters + string.digits
    return {
        "email": lambda: rng.choice(list(fakers.values())).email(),
        "phone (US)": us.phone_number,
        "phone (GB)": gb.phone_number,
        "phone (DE)": de.phone_number,
        "phone (FR)": fr.phone_number,
        "IBAN": lambda: rng.choice(list(fakers.values())).iban(),
        "card number": us.credit_card_number,
        "US SSN": us.ssn,
        "UK NINO": lambda: _nino(rng),
        "ES NIF": es.nif,
        "IT fiscal code": it.ssn,
        "IP address": us.ipv4_public,
        "AWS key": lambda: "AKIA" + _token(rng, upper, 16),
        "GitHub token": lambda: "ghp_" + _token(rng, alnum, 36),
        "OpenAI key": lambda: "sk-proj-" + _token(rng, alnum, 40),
        "street address (US)": us.street_address,
        "name with title": lambda: f"{rng.choice(['Mr.', 'Ms.', 'Dr.', 'Mrs.'])} {us.name()}",
        "bare name": us.name,
        "city": us.city,
    }


def negatives(rng: random.Random, fake: Faker) -> list[str]:
    makers: list[Callable[[], str]] = [
        lambda: f"The meeting moved to {fake.date()} at {fake.time()[:5]}.",
        lambda: f"The invoice total was ${rng.randint(10, 99999):,}.{rng.randint(0, 99):02d}.",
        lambda: (
            f"Upgrade to version {rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}."
        ),
        lambda: (
            f"Order {rng.randint(10000, 99999)}-{rng.randint(10, 99)} ships in {rng.randint(2, 9)} days."
        ),
        lambda: (
            f"See ISBN 978-{rng.randint(0, 9)}-{rng.randint(100, 999)}-{rng.randint(10000, 99999)}-{rng.randint(0, 9)}."
        ),
        lambda: (
            f"Revenue grew {rng.randint(1, 99)}.{rng.randint(0, 9)}% in {rng.randint(1990, 2030)}."
        ),
        lambda: (
            f"The sample weighed {rng.randint(1, 999)}.{rng.randint(0, 99)} kg at {rng.randint(-20, 40)} °C."
        ),
        lambda: (
            f"Read pages {rng.randint(1, 300)}-{rng.randint(301, 600)} of chapter {rng.randint(1, 30)}."
        ),
        lambda: (
            f"The population was {rng.randint(1000, 9999999):,} in the {rng.randint(1900, 2020)} census."
        ),
        lambda: fake.sentence(nb_words=12),
        lambda: f"{fake.company()} hired a {fake.job().lower()} last spring.",
        lambda: (
            f"Room {rng.randint(100, 999)}, building {rng.choice('ABCDEFG')}, floor {rng.randint(1, 12)}."
        ),
    ]
    return [rng.choice(makers)() for _ in range(500)]


def measure_quality(detector: pii.Detector) -> dict[str, object]:
    rng = random.Random(SEED)
    kinds = planted_kinds(rng)
    names = list(kinds)
    per_kind: dict[str, Counter[str]] = {name: Counter() for name in names}
    tp = fp = fn = 0
    for i in range(500):
        kind = names[i % len(names)]
        value = kinds[kind]()
        text = rng.choice(TEMPLATES).format(v=value)
        start = text.index(value)
        end = start + len(value)
        found = detector.find(text)
        hit = [f for f in found if f.start < end and f.end > start]
        per_kind[kind]["total"] += 1
        if hit:
            tp += 1
            per_kind[kind]["found"] += 1
        else:
            fn += 1
        fp += len(found) - len(hit)
    fake = Faker("en_US")
    fake.seed_instance(SEED)
    negative_hits: Counter[str] = Counter()
    flagged_negatives = 0
    for text in negatives(rng, fake):
        found = detector.find(text)
        fp += len(found)
        flagged_negatives += bool(found)
        negative_hits.update(f.entity for f in found)
    return {
        "recall": tp / (tp + fn),
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "negatives_flagged": flagged_negatives,
        "negative_hits_by_entity": dict(negative_hits),
        "recall_by_kind": {k: c["found"] / c["total"] for k, c in per_kind.items()},
    }


def msmarco_passages(n: int) -> list[str]:
    texts = []
    with (DATA / "msmarco" / "corpus.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            texts.append(json.loads(line)["text"])
            if len(texts) == n:
                break
    return texts


def measure_real_text(detector: pii.Detector, texts: list[str]) -> dict[str, object]:
    kinds: Counter[str] = Counter()
    flagged = 0
    for text in texts:
        found = detector.find(text)
        flagged += bool(found)
        kinds.update(f.entity for f in found)
    return {"passages": len(texts), "flagged": flagged, "findings_by_entity": dict(kinds)}


def measure_overhead(detector: pii.Detector, texts: list[str]) -> dict[str, float]:
    rng = random.Random(SEED)
    mask_ms, scan_ms, check_ms = [], [], []
    phone_full_ms, phone_windowed_ms = [], []  # before / after matching only digit runs
    phone = next(r for r in detector.recognizers if type(r).__name__ == "PhoneRecognizer")
    for i in range(200):
        batch = rng.sample(texts, 8)
        passages = [
            ContextPassage(n + 1, f"d{n}", f"doc{n}.md", None, [], None, None, [], t, 0, 0.0)
            for n, t in enumerate(batch)
        ]
        question = "What does the report say about the budget?"
        if i % 10 == 0:
            question += " Reply to jane.doe@example.com."
        prompt = question + "\n\n" + "\n\n".join(batch)
        started = time.perf_counter()
        detector.mask([SYSTEM, prompt])
        mask_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        phone.analyze(prompt, ["PHONE_NUMBER"], None)
        phone_full_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        pii._analyze(phone, prompt, ["PHONE_NUMBER"])
        phone_windowed_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        flags = injection.scan(passages)
        scan_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        injection.obeyed("The budget grew by 4 % [1].", flags, question, SYSTEM)
        check_ms.append((time.perf_counter() - started) * 1000)
    chars = statistics.fmean(len("\n\n".join(rng.sample(texts, 8))) for _ in range(50))

    def p(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1]

    return {
        "prompt_chars_mean": chars,
        "mask_p50_ms": statistics.median(mask_ms),
        "mask_p95_ms": p(mask_ms, 95),
        "injection_scan_p50_ms": statistics.median(scan_ms),
        "injection_scan_p95_ms": p(scan_ms, 95),
        "output_check_p50_ms": statistics.median(check_ms),
        "phone_whole_text_p50_ms": statistics.median(phone_full_ms),
        "phone_digit_runs_p50_ms": statistics.median(phone_windowed_ms),
    }


def first_use_seconds() -> float:
    code = (
        "import time; t = time.perf_counter(); "
        "from mnemo.generation.pii import detector; detector().find('x@example.com'); "
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    first = first_use_seconds()
    detector = pii.detector()
    results: dict[str, object] = {"first_use_seconds": first}
    results["quality"] = measure_quality(detector)
    texts = msmarco_passages(2000)
    results["msmarco_500"] = measure_real_text(detector, texts[:500])
    results["overhead"] = measure_overhead(detector, texts)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
