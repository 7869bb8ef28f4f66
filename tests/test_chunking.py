"""Chunking: token-bounded, nothing lost but the overlap, stable ids, structure kept."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnemo.chunking import Chunker, chunk_id, load_tokenizer
from mnemo.ingest.parsers.base import Page, ParsedDocument, Section
from mnemo.ingest.parsers.markdown import markdown_document

MAX_TOKENS = 40
OVERLAP = 8
chunker = Chunker(MAX_TOKENS, OVERLAP)
tokenizer = load_tokenizer()

words = st.sampled_from(
    "the of retrieval passage café naïve über 東京 données résumé 42 3.14 e-mail "
    "tokenization supercalifragilisticexpialidocious ✓ x".split()
)
sentence = st.lists(words, min_size=1, max_size=30).map(lambda w: " ".join(w) + ".")
paragraph = st.lists(sentence, min_size=1, max_size=8).map(" ".join)
document_text = st.lists(paragraph, min_size=1, max_size=8).map("\n\n".join)


def plain(text: str) -> ParsedDocument:
    return ParsedDocument(text=text, sections=[Section((), 0, len(text))])


def n_tokens(text: str) -> int:
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document_text)
def test_every_chunk_fits_and_no_text_is_lost(text: str) -> None:
    chunks = chunker.chunk(plain(text))
    assert chunks
    covered = 0
    for previous, chunk in zip([None, *chunks], chunks, strict=False):
        assert chunk.text == text[chunk.char_start : chunk.char_end]
        assert chunk.token_count == n_tokens(chunk.text) <= MAX_TOKENS
        if previous is not None:
            # Consecutive chunks either touch (only whitespace between) or overlap
            # by at most the configured number of tokens.
            gap = text[previous.char_end : chunk.char_start]
            assert chunk.char_start <= previous.char_end or not gap.strip()
            if chunk.char_start < previous.char_end:
                assert n_tokens(text[chunk.char_start : previous.char_end]) <= OVERLAP
            assert chunk.char_start > previous.char_start
        covered = max(covered, chunk.char_end)
    # Everything outside the chunks is whitespace.
    assert not text[: chunks[0].char_start].strip()
    assert not text[covered:].strip()


@settings(max_examples=25, deadline=None)
@given(document_text)
def test_chunking_is_deterministic(text: str) -> None:
    first = [(c.text, c.char_start, c.text_hash) for c in chunker.chunk(plain(text))]
    again = [(c.text, c.char_start, c.text_hash) for c in Chunker(MAX_TOKENS, OVERLAP).chunk(plain(text))]
    assert first == again


def test_chunk_ids_are_stable_and_distinct() -> None:
    assert chunk_id("doc", "abc", 0) == chunk_id("doc", "abc", 0)
    assert len({chunk_id("doc", "abc", 0), chunk_id("doc", "abc", 1), chunk_id("doc2", "abc", 0)}) == 3


def test_chunks_never_span_sections() -> None:
    text = "# Alpha\n\nshort alpha text.\n\n# Beta\n\nshort beta text.\n\n## Beta child\n\ndeep text.\n"
    chunks = Chunker(200, 20).chunk(markdown_document(text))
    assert [c.heading_path for c in chunks] == [("Alpha",), ("Beta",), ("Beta", "Beta child")]
    assert "alpha" in chunks[0].text and "beta" not in chunks[0].text


def test_long_section_splits_at_paragraphs_first() -> None:
    paras = [f"Paragraph {i} " + "word " * 25 for i in range(6)]
    text = "\n\n".join(paras)
    chunks = Chunker(70, 0).chunk(plain(text))
    assert len(chunks) > 1
    for chunk in chunks:  # each chunk is whole paragraphs
        assert re.fullmatch(r"(Paragraph \d (word ?)+\s*)+", chunk.text), chunk.text


def test_an_unbreakable_run_is_cut_within_the_limit() -> None:
    text = "x" * 5000  # no spaces, no sentences
    chunks = Chunker(50, 5).chunk(plain(text))
    assert all(c.token_count <= 50 for c in chunks)
    assert chunks[-1].char_end == len(text)


def test_page_spans_follow_character_offsets() -> None:
    page_texts = [("page one " * 30).strip(), ("page two " * 30).strip(), "page three end."]
    text, pages, offset = "", [], 0
    for number, body in enumerate(page_texts, start=1):
        pages.append(Page(number, offset, offset + len(body) + 2))
        text += body + "\n\n"
        offset = len(text)
    doc = ParsedDocument(text=text, sections=[Section((), 0, len(text))], pages=pages)
    chunks = Chunker(50, 0).chunk(doc)
    for chunk in chunks:
        first = next(p for p in pages if p.start <= chunk.char_start < p.end)
        last = next(p for p in pages if p.start < chunk.char_end <= p.end)
        assert (chunk.page_start, chunk.page_end) == (first.number, last.number)
    assert chunks[-1].page_end == 3


def test_custom_tokenizer_path(tmp_path: Path) -> None:
    from mnemo.chunking import default_tokenizer_path

    copy = tmp_path / "tok.json"
    copy.write_bytes(default_tokenizer_path().read_bytes())
    assert Chunker(40, 0, copy).key == Chunker(40, 0).key
    assert Chunker(41, 0).key != Chunker(40, 0).key
