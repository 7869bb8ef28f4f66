"""Citation markers: what counts as a citation, what is removed, what a claim is."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from mnemo.generation.citations import MARKER, claims, marker_numbers, strip_invalid
from mnemo.generation.support import lexical_support


def test_marker_forms_models_write() -> None:
    assert marker_numbers("1, 2") == [1, 2]
    assert marker_numbers("2-4") == [2, 3, 4]
    assert marker_numbers("1; 3") == [1, 3]
    text = "A [1]. B [2][3]. C 【4】. D [5-6]."
    assert [n for m in MARKER.finditer(text) for n in marker_numbers(m.group(1))] == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]


def test_a_marker_left_after_the_full_stop_belongs_to_the_sentence_before() -> None:
    assert claims("Tides follow the Moon. [2] The Sun matters too [1].") == [
        ("Tides follow the Moon.", [2]),
        ("The Sun matters too.", [1]),
    ]


def test_sentences_without_markers_are_not_claims_with_citations() -> None:
    assert claims("Hello there. Tides follow the Moon [1].") == [("Tides follow the Moon.", [1])]


def test_invalid_numbers_are_removed_and_valid_ones_kept() -> None:
    text, removed = strip_invalid("Koum founded it [1, 7]. Price [9]. Year [2].", {1, 2})
    assert text == "Koum founded it [1]. Price. Year [2]."
    assert removed == [7, 9]


@given(
    st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=8),
    st.sets(st.integers(min_value=1, max_value=30), max_size=10),
)
def test_no_invalid_number_survives(numbers: list[int], valid: set[int]) -> None:
    text = " ".join(f"Claim {i} [{n}]." for i, n in enumerate(numbers))
    cleaned, removed = strip_invalid(text, valid)
    left = [int(n) for n in re.findall(r"\[(\d+)\]", cleaned)]
    assert all(n in valid for n in left)
    assert sorted(removed) == sorted(n for n in numbers if n not in valid)


def test_a_swapped_name_or_number_lowers_lexical_support() -> None:
    claim = "Facebook acquired WhatsApp in 2014."
    right = "Facebook purchased WhatsApp in 2014 for 19 billion dollars."
    swapped = "Apple purchased WhatsApp in 2014 for 19 billion dollars."
    assert lexical_support(claim, right) > lexical_support(claim, swapped)
