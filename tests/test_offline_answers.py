"""Offline (extractive) answers a reader can rely on: the answering sentence quoted as
prose, absent topics abstained on, follow-ups understood, whole documents summarised.

Real Markdown files in a temporary folder, indexed with the packaged embedder and
answered with the packaged cross-encoder; /v1 follow-ups go over real HTTP to a
real server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from openai import OpenAI

import mnemo
from mnemo.catalog import Catalog
from mnemo.config import Settings, load_settings
from mnemo.generation.types import Answer
from mnemo.server.auth import create_key
from serverutil import serving

NOTES = {
    "vault/Project Falcon.md": (
        "---\ntags: [project]\n---\n"
        "# Project Falcon\n\n"
        "**Project Falcon** replaces the old billing system for the [[Finance team|finance "
        "team]]. The project is run by [[Maria Lopez]] from the Lisbon office.\n\n"
        "## Timeline\n\n"
        "The kick-off meeting took place with all stakeholders in the spring. "
        "Project Falcon has its go-live planned for **2024-09-15**, after two weeks of "
        "parallel running. Training sessions for the support staff follow the go-live.\n\n"
        "## Risks\n\n"
        "- The data migration from the legacy database may take longer than planned.\n"
        "- Two vendors still have to sign the new contracts.\n"
    ),
    "papers/distilbert.md": (
        "# DistilBERT\n\n"
        "DistilBERT is a smaller, faster version of BERT trained by knowledge distillation. "
        "The student is initialized from the teacher by taking one layer out of two. "
        "DistilBERT has 6 layers and 66 million parameters.\n"
    ),
    "papers/llama.md": (
        "# LLaMA\n\n"
        "LLaMA is a family of foundation language models trained on public data. "
        "LLaMA is trained with the AdamW optimizer, with beta1 = 0.9 and beta2 = 0.95, "
        "a cosine learning rate schedule and a weight decay of 0.1. "
        "The largest LLaMA model has 80 layers and 65 billion parameters.\n"
    ),
    "papers/survey.md": (
        "---\ntitle: A survey of efficient transformers\n---\n"
        "# A survey of efficient transformers\n\n"
        "Table of contents\n\n"
        "1 Introduction .......... 1\n\n"
        "2 Compression .......... 3\n\n"
        "## 1 Introduction\n\n"
        "Large language models are expensive to train and to serve. "
        "This survey reviews methods that make transformers cheaper to run. "
        "We group them into compression, efficient attention and better hardware use.\n\n"
        "## 2 Compression\n\n"
        "Knowledge distillation trains a small student model to imitate a large teacher. "
        "Quantization stores weights in eight bits or fewer, cutting memory by four times. "
        "Pruning removes the weights that matter least for the output.\n\n"
        "## 3 Efficient attention\n\n"
        "Sparse attention lets each token attend to a few others instead of all of them. "
        "Linear attention approximates the softmax so that cost grows linearly with length.\n\n"
        "## 4 Conclusion\n\n"
        "Compression and efficient attention together cut the cost of serving by an order "
        "of magnitude.\n\n"
        "## References\n\n"
        "[1] Sanh, V., Debut, L., Chaumond, J., Wolf, T. DistilBERT, a distilled version of "
        "BERT. arXiv preprint arXiv:1910.01108, 2019.\n\n"
        "[2] Touvron, H., Lavril, T., Izacard, G., et al. LLaMA: Open and efficient "
        "foundation language models. arXiv preprint arXiv:2302.13971, 2023.\n"
    ),
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("offline")
    for name, text in NOTES.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "allowed").mkdir()
    found = load_settings(
        root / "home",
        {"ingest": {"workers": 1}, "server": {"allowed_roots": [str(root / "allowed")]}},
    )
    report = mnemo.add([root / "docs"], found)
    assert report.counts["indexed"] == len(NOTES)
    return found


def ask(settings: Settings, question: str, **options: object) -> Answer:
    return mnemo.ask(question, settings, use_llm=False, **options)  # type: ignore[arg-type]


def first_line(answer: Answer) -> str:
    return answer.text.splitlines()[0]


def test_a_date_question_is_answered_with_the_date_sentence(settings: Settings) -> None:
    answer = ask(settings, "What is the go-live date of Project Falcon?")
    assert answer.kind == "extractive"
    assert "2024-09-15" in first_line(answer)
    assert answer.citations[0].path is not None
    assert answer.citations[0].path.endswith("Project Falcon.md")


def test_quotes_are_plain_text_and_citations_run_from_one(settings: Settings) -> None:
    answer = ask(settings, "Who runs Project Falcon and what does it replace?")
    assert answer.kind == "extractive"
    assert "Maria Lopez" in answer.text
    for mark in ("**", "[[", "]]", "# ", "---"):
        assert mark not in answer.text
    cited = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    assert cited[0] == 1
    firsts = list(dict.fromkeys(cited))
    assert firsts == list(range(1, len(firsts) + 1))  # numbered in order of appearance
    assert [s.number for s in answer.sources] == list(range(1, len(answer.sources) + 1))
    for citation in answer.citations:
        assert citation.source is answer.sources[citation.number - 1]
        assert citation.sentence in citation.source.text.replace("**", "").replace(
            "[[Maria Lopez]]", "Maria Lopez"
        ).replace("[[Finance team|finance team]]", "finance team")


def test_a_question_about_an_absent_topic_abstains(settings: Settings) -> None:
    answer = ask(settings, "What was the training objective of GLM-130B?")
    assert answer.kind == "abstained"
    assert answer.citations == []


def test_a_question_the_documents_answer_does_not_abstain(settings: Settings) -> None:
    answer = ask(settings, "What hyperparameters of AdamW were used to train LLaMA?")
    assert answer.kind == "extractive"
    assert "beta2 = 0.95" in first_line(answer)


def test_a_follow_up_is_answered_in_its_conversation(settings: Settings) -> None:
    for subject, expected in (("DistilBERT", "6 layers"), ("LLaMA", "80 layers")):
        conversation = mnemo.Library(settings).start_conversation(f"about {subject}")
        first = ask(settings, f"What is {subject}?", conversation_id=conversation)
        assert first.kind == "extractive"
        answer = ask(settings, "How many layers does it have?", conversation_id=conversation)
        assert subject in answer.query
        assert answer.kind == "extractive"
        assert expected in first_line(answer)


def test_the_teacher_follow_up_without_a_model(settings: Settings) -> None:
    history = [("What is DistilBERT?", "DistilBERT is a smaller, faster version of BERT.")]
    answer = ask(settings, "How was it initialized from the teacher?", history=history)
    assert answer.kind == "extractive"
    assert "one layer out of two" in first_line(answer)


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[OpenAI]:
    with Catalog(settings.catalog_path) as catalog:
        _, secret = create_key(catalog, "read", "chat-ui")
    with serving(settings) as url:
        yield OpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0)


@pytest.mark.parametrize(
    ("subject", "expected"), [("DistilBERT", "6 layers"), ("LLaMA", "80 layers")]
)
def test_v1_follow_up_reads_the_messages_the_client_sends(
    client: OpenAI, subject: str, expected: str
) -> None:
    first = client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": f"What is {subject}?"}]
    )
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": f"What is {subject}?"},
        {"role": "assistant", "content": first.choices[0].message.content or ""},
        {"role": "user", "content": "How many layers does it have?"},
    ]
    completion = client.chat.completions.create(model="default", messages=messages)  # type: ignore[arg-type]
    text = completion.choices[0].message.content or ""
    assert expected in text.splitlines()[0]
    assert subject in completion.model_extra["mnemo"]["query"]  # type: ignore[index]


def test_rest_follow_up_in_a_conversation(settings: Settings) -> None:
    with Catalog(settings.catalog_path) as catalog:
        _, secret = create_key(catalog, "write", "rest-follow-up")
    headers = {"Authorization": f"Bearer {secret}"}
    with serving(settings) as url, httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        created = http.post("/collections/default/conversations", json={"title": "DistilBERT"})
        conversation = created.json()["id"]
        for question in ("What is DistilBERT?", "How many layers does it have?"):
            reply = http.post(
                "/collections/default/ask",
                json={"question": question, "conversation_id": conversation},
            )
            assert reply.status_code == 200, reply.text
        answer = reply.json()
    assert answer["kind"] == "extractive"
    assert "DistilBERT" in answer["query"]
    assert "6 layers" in answer["text"].splitlines()[0]


def test_whole_document_summary_skips_contents_and_references(settings: Settings) -> None:
    answer = ask(settings, "Summarize the main points", documents=["survey.md"])
    assert answer.kind == "extractive"
    lines = answer.text.splitlines()
    assert len(lines) >= 3
    for line in lines:
        assert not line.startswith("[")
        assert ".........." not in line and "arXiv" not in line and "Table of contents" not in line
        assert re.search(r" \[\d+\]$", line)  # every sentence cited
    body = NOTES["papers/survey.md"]
    positions = [body.index(re.sub(r" \[\d+\]$", "", line)) for line in lines]
    assert positions == sorted(positions)  # in the document's order
    sections = {"Introduction", "Compression", "Efficient attention", "Conclusion"}
    covered = {c.source.heading_path[-1].split(" ", 1)[1] for c in answer.citations if c.source}
    assert len(covered & sections) >= 3  # spread across the sections, not the first only


def test_a_list_item_is_quoted_with_the_sentence_that_introduces_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    note = tmp_path / "docs" / "Backups.md"
    note.parent.mkdir()
    note.write_text(
        "# Backups\n\n"
        "Restores are tested by hand every quarter by the operations team.\n\n"
        "The nightly backup job does three things:\n\n"
        "- it copies the database to the NAS at 02:00;\n"
        "- it compares the copy's checksum with the original's;\n"
        "- it deletes copies older than 30 days.\n"
    )
    found = load_settings(tmp_path / "home", {"ingest": {"workers": 1}})
    assert mnemo.add([tmp_path / "docs"], found).counts["indexed"] == 1
    answer = ask(found, "When does the nightly backup job copy the database to the NAS?")
    assert answer.kind == "extractive"
    assert first_line(answer).startswith(
        "The nightly backup job does three things: it copies the database to the NAS at 02:00."
    )


SEASONS = {
    "sport/World Cup 2010.md": (
        "# FIFA World Cup 2010\n\n"
        "The 2010 FIFA World Cup was held in South Africa. In the final in Johannesburg, "
        "Spain beat the Netherlands 1–0 after extra time, with a goal by Andrés Iniesta.\n"
    ),
    "sport/World Cup 2018.md": (
        "# FIFA World Cup 2018\n\n"
        "The 2018 FIFA World Cup was held in Russia. In the final in Moscow, France beat "
        "Croatia 4–2 and won their second title.\n"
    ),
    "nature/Sea otters.md": (
        "# Sea otters\n\n"
        "Sea otters sleep seventeen hours a day, floating on their backs in kelp beds. "
        "They hold paws so that they do not drift apart.\n"
    ),
    "companies/Acme Robotics.md": (
        "# Acme Robotics\n\n"
        "Acme Robotics was founded by Jane Smith and Tom Lee in Porto. Acme Robotics "
        "builds warehouse robots that pick and pack parcels for logistics firms.\n"
    ),
}


@pytest.fixture(scope="module")
def seasons(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("seasons")
    for name, text in SEASONS.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    found = load_settings(root / "home", {"ingest": {"workers": 1}})
    assert mnemo.add([root / "docs"], found).counts["indexed"] == len(SEASONS)
    return found


def test_a_same_topic_question_for_another_year_abstains(seasons: Settings) -> None:
    answer = ask(seasons, "Who won the 2014 FIFA World Cup final?")
    assert answer.kind == "abstained"
    assert answer.citations == []
    assert any("2014" in w for w in answer.warnings), answer.warnings


def test_the_same_question_for_a_year_the_notes_have_is_answered(seasons: Settings) -> None:
    answer = ask(seasons, "Who won the 2018 FIFA World Cup final?")
    assert answer.kind == "extractive"
    assert "France" in first_line(answer)


def test_a_number_written_in_words_answers_how_long(seasons: Settings) -> None:
    answer = ask(seasons, "How long do sea otters sleep?")
    assert answer.kind == "extractive", answer.warnings
    assert "seventeen hours a day" in first_line(answer)


def test_a_when_question_over_notes_without_a_date_abstains(seasons: Settings) -> None:
    answer = ask(seasons, "When was Acme Robotics founded?")
    assert answer.kind == "abstained"


def test_the_quote_check_can_be_turned_off(seasons: Settings) -> None:
    unchecked = seasons.model_copy(
        update={"answer": seasons.answer.model_copy(update={"quote_check": "off"})}
    )
    # the passages score high enough with the reranker: only the quote check abstains
    for question in ("Who won the 2014 FIFA World Cup final?", "When was Acme Robotics founded?"):
        assert ask(unchecked, question).kind == "extractive", question


MANUALS = {
    # the shape of docs/usage.md > Keeping in step, the README's demo question
    "Notekeeper.md": (
        "# Using Notekeeper\n\n"
        "## Keeping in step\n\n"
        "`nk sync` looks at every folder again:\n\n"
        "- a note whose size and modification time are unchanged is not read at all;\n"
        "- a note whose content hash is unchanged (touched, or copied back) is not parsed "
        "again;\n"
        "- a changed note is parsed again, and only the paragraphs whose text changed are "
        "replaced;\n"
        "- a note that disappeared is removed, unless the same content appeared under "
        "another path.\n\n"
        "`nk watch` syncs once, then re-examines only the paths that change, until you press "
        'Ctrl-C. Ctrl-C between syncs ends it with "Stopped watching." (exit code 0); a '
        "second Ctrl-C ends it at once.\n"
    ),
    # a class manual's option list, one option a line, as PDF text reads
    "Memo class.md": (
        "# The memo class\n\n"
        "The memo class typesets the internal memos of the department.\n\n"
        "## Options\n\n"
        "doubleblind To hide the author's name and address for double-blind review.\n\n"
        "nonumbers This option removes the numbers from the section headings.\n\n"
        "• letters – used for memos sent to every member of the department.\n"
    ),
}


@pytest.fixture(scope="module")
def manuals(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("manuals")
    for name, text in MANUALS.items():
        (root / "docs").mkdir(exist_ok=True)
        (root / "docs" / name).write_text(text)
    found = load_settings(root / "home", {"ingest": {"workers": 1}})
    assert mnemo.add([root / "docs"], found).counts["indexed"] == len(MANUALS)
    return found


def test_a_list_of_what_a_command_does_answers_how_notes_are_kept_in_step(
    manuals: Settings,
) -> None:
    answer = ask(manuals, "how are notes kept in step")
    assert answer.kind == "extractive", answer.warnings
    # the items say what `nk sync` does and skips; the Ctrl-C sentences do not answer it
    assert first_line(answer).startswith("nk sync looks at every folder again: a ")
    assert "`" not in answer.text
    assert "Ctrl-C" not in first_line(answer)


def test_an_option_defined_on_its_own_line_is_quoted(manuals: Settings) -> None:
    answer = ask(manuals, "Which memo option hides the author's name for double-blind review?")
    assert answer.kind == "extractive", answer.warnings
    assert first_line(answer).startswith("doubleblind To hide the author's name")
    bullet = ask(manuals, "Which memo option is used for memos sent to every member?")
    assert first_line(bullet).startswith("letters – used for memos sent to every member")


def test_fragments_cut_out_of_a_sentence_are_still_not_quoted() -> None:
    from mnemo.generation.quotable import quotable

    for fragment in (
        "and the model was trained on BooksCorpus and English Wikipedia.",
        "and BERT is trained on the whole of English Wikipedia.",
        "trained BERT on the whole of Wikipedia for three days.",
        "e.g. the model is trained for three days on eight GPUs.",
        ", Strubell et al. [2019] show that training is costly.",
    ):
        assert not quotable(fragment), fragment
    for line in (
        "doubleblind To hide author name, affiliation, email address etc.",
        "\\and If there is more than one author, please separate them by \\and.",
        "elsarticle.cls is primarily built upon the default article.cls.",
        "mask: Masks references that are marked as the author's own.",
    ):
        assert quotable(line), line


def test_the_quote_check_reads_a_bounded_number_of_candidates(settings: Settings) -> None:
    """A long passage: the cross-encoder reads at most 16 sentences and 16 windows of it
    (the cost of an answer), and the answering sentence, buried mid-way, is among them."""
    from mnemo.generation.extractive import candidates
    from mnemo.retrieval.context import ContextPassage
    from mnemo.retrieval.rerank import load_reranker

    filler = [f"Section {n} of the handbook covers routine matters of office {n}." for n in range(60)]
    filler[31] = "The fire drill for the Lisbon office takes place on 12 March 2025."
    text = " ".join(filler)
    passage = ContextPassage(
        1, "d", "handbook.md", "Handbook", [], None, None, ["c"], text, len(text.split()), 1.0
    )
    found = candidates("When is the fire drill in Lisbon?", [passage], load_reranker(settings), None)
    assert 0 < len(found) <= 32
    assert "12 March 2025" in found[0].text
