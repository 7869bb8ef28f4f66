"""Personal data in text bound for a remote model: find it, mask it, restore it.

Recognition is Presidio's (``presidio-analyzer``) pattern and checksum recognisers,
run directly, with no NLP engine and so no downloaded spaCy model: e-mail addresses,
phone numbers (``phonenumbers``), IBANs (checksum), card numbers (Luhn), IP and crypto
addresses and national ids of common formats (US SSN/ITIN/passport, UK NINO/NHS, ES
NIF/NIE, IT fiscal code, IN PAN/Aadhaar, AU TFN, PL PESEL, FI, SE, SG, KR, DE tax
id, CA SIN). Mnemo adds pattern recognisers for secrets (API keys and tokens of the
common services, JWTs, private-key blocks, ``password = ...`` assignments), street
addresses (a number, words, a street suffix) and names after a title (Mr, Dr, ...).

Without a language model's NER, a bare person's name ("Ada Lovelace"), a city, an
address without a street word or a national id written without its usual separators
(and with no context word near it) are NOT found; docs/configuration.md says so.

A context word near a weak pattern (e.g. "SSN" before nine digits) raises its score,
as Presidio's context enhancer would with an NLP engine. Masking replaces each value
with a numbered placeholder such as ``<EMAIL_ADDRESS_1>`` (the same value, the same
placeholder) through ``presidio-anonymizer``; :meth:`Masked.unmask` puts the values
back into the model's reply, and :class:`Unmasker` does so for a stream, holding back
a placeholder split between two pieces.
"""

from __future__ import annotations

import re
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

_CONTEXT_BOOST = 0.35
_CONTEXT_CHARS = 40
_PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*?)_(\d+)>")
_PARTIAL = re.compile(r"<[A-Z_0-9]{0,40}$")

#: The secret patterns Mnemo adds: (entity, name, regex, score).
_SECRETS: list[tuple[str, str, str, float]] = [
    ("API_KEY", "AWS access key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", 0.9),
    (
        "API_KEY",
        "GitHub token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,})\b",
        0.95,
    ),
    ("API_KEY", "OpenAI/Anthropic key", r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}\b", 0.9),
    ("API_KEY", "Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b", 0.9),
    ("API_KEY", "Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b", 0.9),
    ("API_KEY", "Stripe key", r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}\b", 0.9),
    ("API_KEY", "JWT", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 0.85),
    (
        "API_KEY",
        "private key block",
        r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z]+ )?PRIVATE KEY-----",
        1.0,
    ),
    (
        "API_KEY",
        "secret assignment",
        r"(?i)(?<=(?:password|passwd|secret|token|api[_-]?key)\s?[:=]\s?)[\"']?[^\s\"']{8,}",
        0.7,
    ),
]
_STREET = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Square|Sq|Terrace|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Trail|Crescent|Close|Gardens|"
    r"Alley|Bypass|Causeway|Common|Corner|Cove|Creek|Crest|Crossing|Estates?|Expressway|"
    r"Extension|Ferry|Fields?|Flats?|Fords?|Forges?|Forks?|Freeway|Gateway|Glens?|Greens?|"
    r"Groves?|Harbors?|Haven|Heights|Hills?|Hollow|Inlet|Junctions?|Knolls?|Landing|Loop|"
    r"Manors?|Meadows?|Mews|Mills?|Motorway|Orchard|Oval|Pass|Passage|Path|Pike|Pines?|"
    r"Plaza|Points?|Ports?|Ridges?|Row|Run|Shores?|Springs?|Stravenue|Summit|Trace|"
    r"Turnpike|Valleys?|Via|Views?|Villages?|Ville|Vista|Walks?|Wells?|Brooks?|Burgs?|"
    r"Camp|Canyon|Cape|Centers?|Cliffs?|Club|Corners?|Courses?|Courts?|Coves?|Curve|Dale|"
    r"Dam|Divide|Drives?|Falls|Forest|Fort|Islands?|Isle|Keys?|Lakes?|Land|Lights?|Loaf|"
    r"Locks?|Lodge|Mall|Mission|Mount|Mountains?|Neck|Overpass|Parks?|Parkways?|Plains?|"
    r"Prairie|Radial|Ramp|Ranch|Rapids?|Rest|Rivers?|Roads?|Route|Rue|Shoals?|Skyway|"
    r"Spurs?|Squares?|Station|Streams?|Streets?|Throughway|Track|Trafficway|Tunnel|"
    r"Underpass|Unions?|Viaduct|Wall|Ways?"
)
#: Card numbers Presidio's patterns miss: Mastercard's 2-series, Amex and Diners
#: grouped 4-6-5/4-6-4, and 12-19 digits written without spaces (Maestro, JCB, long
#: Visa). The recogniser's Luhn check still decides.
_CARDS = [
    (r"\b2[2-7]\d{2}[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b", "Mastercard 2-series"),
    (r"\b3[0-9]\d{2}[- ]\d{6}[- ]\d{4,5}\b", "Amex or Diners, grouped"),
    (r"\b[2-6]\d{11,18}\b", "12 to 19 digits"),
]
_ADDRESS = rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][a-z]+\.?\s+){{1,4}}(?:{_STREET})\b"
_TITLED_NAME = (
    r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Sir|Dame)\.?\s+[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
    r"(?:\s[A-Z][a-z]+(?:-[A-Z][a-z]+)?){0,2}\b"
)
_CASED = re.DOTALL | re.MULTILINE  # Presidio's default also ignores case

#: Presidio's recognisers Mnemo runs (class names in presidio_analyzer), and regions
#: for phone numbers.
_PRESIDIO = (
    "IbanRecognizer",
    "IpRecognizer",
    "CryptoRecognizer",
    "UsSsnRecognizer",
    "UsItinRecognizer",
    "UsPassportRecognizer",
    "UkNinoRecognizer",
    "NhsRecognizer",
    "EsNifRecognizer",
    "EsNieRecognizer",
    "ItFiscalCodeRecognizer",
    "InAadhaarRecognizer",
    "AuTfnRecognizer",
    "PlPeselRecognizer",
    "FiPersonalIdentityCodeRecognizer",
    "SePersonnummerRecognizer",
    "SgFinRecognizer",
    "KrRrnRecognizer",
    "DeTaxIdRecognizer",
    "CaSinRecognizer",
)
_PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "AU", "BR", "IE", "CH")
#: Where a phone number may be: a run of digits with separators, an extension after it.
_PHONE_CANDIDATE = re.compile(
    r"[+(]?\d[\d \t().\-/]{5,}\d(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?", re.IGNORECASE
)
#: Recognisers run only on texts where this finds something (each is slow on prose).
_PREFILTER = {
    "IpRecognizer": re.compile(
        r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9A-Fa-f]{1,4}::?[0-9A-Fa-f]"
    ),
    "ItFiscalCodeRecognizer": re.compile(r"(?i)\b[a-z]{6}[0-9lmnpqrstuv]{2}[a-z]"),
}


@dataclass(frozen=True)
class Finding:
    entity: str  # e.g. EMAIL_ADDRESS, PHONE_NUMBER, IBAN_CODE, API_KEY
    start: int
    end: int
    score: float


@dataclass
class Masked:
    """Texts with their personal values replaced, and how to put them back."""

    texts: list[str]
    values: dict[str, str] = field(default_factory=dict)  # placeholder -> original value

    @property
    def count(self) -> int:
        return len(self.values)

    def kinds(self) -> Counter[str]:
        """How many values of each kind were masked, e.g. {"EMAIL_ADDRESS": 2}."""
        return Counter(_PLACEHOLDER.match(p).group(1) for p in self.values)  # type: ignore[union-attr]

    def unmask(self, text: str) -> str:
        if not self.values:
            return text
        return _PLACEHOLDER.sub(lambda m: self.values.get(m.group(0), m.group(0)), text)


class Unmasker:
    """Restores placeholders in a streamed reply, piece by piece."""

    def __init__(self, masked: Masked) -> None:
        self.masked = masked
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        partial = _PARTIAL.search(text) if self.masked.values else None
        if partial is not None:
            self._held, text = text[partial.start() :], text[: partial.start()]
        else:
            self._held = ""
        return self.masked.unmask(text)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return self.masked.unmask(held)


def describe(kinds: Counter[str]) -> str:
    """``{"EMAIL_ADDRESS": 2, "IBAN_CODE": 1}`` as "2 email address(es), 1 iban code"."""
    return ", ".join(f"{n} {kind.lower().replace('_', ' ')}" for kind, n in sorted(kinds.items()))


class Detector:
    """Presidio's local recognisers and Mnemo's patterns, built once (thread-safe to use)."""

    def __init__(self, entities: Sequence[str] = (), min_score: float = 0.4) -> None:
        self.recognizers = _build()
        self.entities = set(entities)
        self.min_score = min_score

    @property
    def supported(self) -> list[str]:
        return sorted({e for r in self.recognizers for e in r.supported_entities})

    def find(self, text: str) -> list[Finding]:
        """Personal values in ``text``, overlaps resolved to the longest, best-scored one."""
        found: list[Finding] = []
        lowered = text.lower()
        for recognizer in self.recognizers:
            wanted = [e for e in recognizer.supported_entities if _wanted(e, self.entities)]
            if not wanted:
                continue
            for result in _analyze(recognizer, text, wanted):
                score = result.score
                if score < self.min_score and _has_context(lowered, result.start, recognizer):
                    score = min(1.0, score + _CONTEXT_BOOST)
                if score >= self.min_score:
                    found.append(Finding(result.entity_type, result.start, result.end, score))
        return _resolve(found)

    def mask(self, texts: Iterable[str]) -> Masked:
        """Each text with its values replaced; one placeholder per distinct value."""
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

        masked = Masked(texts=[])
        by_value: dict[tuple[str, str], str] = {}
        per_kind: Counter[str] = Counter()

        def placeholder(entity: str) -> Any:
            def make(value: str) -> str:
                key = (entity, value)
                if key not in by_value:
                    per_kind[entity] += 1
                    by_value[key] = f"<{entity}_{per_kind[entity]}>"
                    masked.values[by_value[key]] = value
                return by_value[key]

            return make

        engine = AnonymizerEngine()
        for text in texts:
            findings = self.find(text)
            if not findings:
                masked.texts.append(text)
                continue
            results = [RecognizerResult(f.entity, f.start, f.end, f.score) for f in findings]
            operators = {
                f.entity: OperatorConfig("custom", {"lambda": placeholder(f.entity)})
                for f in findings
            }
            masked.texts.append(engine.anonymize(text, results, operators).text)
        return masked


_lock = threading.Lock()
_detectors: dict[tuple[tuple[str, ...], float], Detector] = {}


def detector(entities: Sequence[str] = (), min_score: float = 0.4) -> Detector:
    """The detector for these settings, built on first use (about 0.1 s) and kept."""
    key = (tuple(sorted(entities)), min_score)
    with _lock:
        if key not in _detectors:
            _detectors[key] = Detector(entities, min_score)
        return _detectors[key]


def _analyze(recognizer: Any, text: str, wanted: list[str]) -> list[Any]:
    """The recogniser's findings, run only where they can be: phone numbers on the digit
    runs that may be one (prose is most of a prompt and the phone matcher scans it once
    per region), and some recognisers only on texts their prefilter matches."""
    name = type(recognizer).__name__
    if name == "PhoneRecognizer":
        found = []
        for match in _PHONE_CANDIDATE.finditer(text):
            for result in recognizer.analyze(match.group(0), wanted, None):
                result.start += match.start()
                result.end += match.start()
                found.append(result)
        return found
    prefilter = _PREFILTER.get(name)
    if prefilter is not None and not prefilter.search(text):
        return []
    return recognizer.analyze(text, wanted, None)  # type: ignore[no-any-return]


def _wanted(entity: str, entities: set[str]) -> bool:
    return not entities or entity in entities


def _has_context(lowered: str, start: int, recognizer: Any) -> bool:
    before = lowered[max(0, start - _CONTEXT_CHARS) : start]
    return any(word.lower() in before for word in (recognizer.context or ()))


def _resolve(found: list[Finding]) -> list[Finding]:
    """Keep the longest (then best) of overlapping findings."""
    kept: list[Finding] = []
    for f in sorted(found, key=lambda f: (-(f.end - f.start), -f.score, f.start)):
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def _import_presidio() -> Any:
    """presidio_analyzer, imported without the torch and transformers it would load for
    NLP engines Mnemo does not use (10 s on a small machine). Both stay importable."""
    blocked = [name for name in ("torch", "transformers") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import presidio_analyzer.predefined_recognizers as predefined
    except ImportError as exc:  # pragma: no cover - a dependency of mnemo
        from mnemo.errors import ConfigError

        raise ConfigError(
            "personal-data checks need presidio-analyzer: pip install presidio-analyzer "
            "presidio-anonymizer (or set guard.pii = off)"
        ) from exc
    finally:
        for name in blocked:
            if sys.modules.get(name) is None:
                del sys.modules[name]
    return predefined


def _build() -> list[Any]:
    predefined = _import_presidio()
    from presidio_analyzer import Pattern, PatternRecognizer

    recognizers: list[Any] = [_email_recognizer(predefined.EmailRecognizer)]
    recognizers.append(predefined.PhoneRecognizer(supported_regions=_PHONE_REGIONS))
    for name in _PRESIDIO:
        recognizers.append(getattr(predefined, name)())
    card = predefined.CreditCardRecognizer
    extra = [Pattern(name, regex, 0.3) for regex, name in _CARDS]
    recognizers.append(card(patterns=[*card.PATTERNS, *extra]))
    by_entity: dict[str, list[Any]] = {}
    for entity, name, regex, score in _SECRETS:
        by_entity.setdefault(entity, []).append(Pattern(name, regex, score))
    for entity, patterns in by_entity.items():
        recognizers.append(
            PatternRecognizer(supported_entity=entity, patterns=patterns, global_regex_flags=_CASED)
        )
    recognizers.append(
        PatternRecognizer(
            supported_entity="STREET_ADDRESS",
            patterns=[Pattern("street address", _ADDRESS, 0.6)],
            global_regex_flags=_CASED,
        )
    )
    recognizers.append(
        PatternRecognizer(
            supported_entity="PERSON",
            patterns=[Pattern("titled name", _TITLED_NAME, 0.6)],
            global_regex_flags=_CASED,
        )
    )
    return recognizers


def _email_recognizer(base: type) -> Any:
    """Presidio's e-mail recogniser, checking the domain against tldextract's bundled
    suffix list (its default would fetch the list from the network)."""
    import tldextract

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(base):  # type: ignore[misc, valid-type]
        def validate_result(self, pattern_text: str) -> bool:
            return offline(pattern_text).fqdn != ""

    return OfflineEmailRecognizer()
