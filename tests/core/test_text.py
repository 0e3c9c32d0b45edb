"""The text rule and the one form of a label, on plain values."""

from __future__ import annotations

import unicodedata

import pytest

from truthloop.core.text import (
    LINE,
    STORED,
    TEXT,
    character_name,
    label_problem,
    normal_label,
    refusal,
    text_problem,
)
from truthloop.core.types import Box, Classification, LabelSet, MultiLabel

NFC_CAFE = "caf\u00e9"
NFD_CAFE = "cafe\u0301"


def test_a_nul_is_refused_naming_the_field_the_character_and_where():
    assert text_problem("label", "ca\x00t") == (
        "label 'ca\\x00t' contains U+0000 (NUL) at character 3, which is not allowed"
    )


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f", "\t", "\n", "\r", "\u2028", "\u2029",
     "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
     "\ud800", "\udfff"],
)
def test_a_single_line_refuses_controls_separators_bidi_controls_and_surrogates(char):
    problem = refusal(f"ab{char}c", LINE)
    assert problem is not None
    assert f"U+{ord(char):04X}" in problem and "at character 3" in problem


@pytest.mark.parametrize("value", ["cat", "traffic light", "café", "猫", "שלום\u200f1", "a-b_c.d"])
def test_ordinary_text_of_any_script_passes(value):
    assert refusal(value, LINE) is None
    assert label_problem(value) is None


def test_multi_line_text_allows_tab_newline_and_return_but_nothing_else():
    assert refusal("# Steps\n\n1.\tdraw\r\n2. check", TEXT) is None
    for char in ("\x00", "\x0b", "\x0c", "\x1b", "\x7f", "\u202e", "\u2066", "\ud800"):
        assert refusal(f"line\n{char}", TEXT) is not None


def test_stored_values_refuse_only_what_no_database_can_hold():
    assert refusal("\x1b[31m \u202e\tpassed through", STORED) is None
    assert "U+0000 (NUL)" in (refusal("a\x00", STORED) or "")
    assert "U+D800 (a surrogate)" in (refusal("\ud800", STORED) or "")


def test_characters_are_named_where_unicode_names_them():
    assert character_name("\x1b") == "U+001B (ESC)"
    assert character_name("\u202e") == "U+202E (RIGHT-TO-LEFT OVERRIDE)"
    assert character_name("\x85") == "U+0085 (a control character)"


def test_a_long_value_is_shown_cut_short():
    problem = text_problem("instructions", "x" * 5000 + "\x00")
    assert problem is not None and len(problem) < 200
    assert "at character 5001" in problem


def test_a_label_takes_one_form_nfc():
    assert NFC_CAFE != NFD_CAFE
    assert normal_label(NFD_CAFE) == NFC_CAFE == normal_label(NFC_CAFE)
    assert unicodedata.is_normalized("NFC", normal_label("A\u030a"))


def test_label_values_and_label_sets_hold_labels_in_nfc():
    assert Classification(NFD_CAFE).label == NFC_CAFE
    assert MultiLabel((NFD_CAFE, "dog")).labels == (NFC_CAFE, "dog")
    assert Box(NFD_CAFE, 0, 0, 1, 1).label == NFC_CAFE
    labels = LabelSet.from_names([NFC_CAFE, NFD_CAFE, "dog"])
    assert labels.names == (NFC_CAFE, "dog")
    assert NFD_CAFE in labels and labels.id_of(NFD_CAFE) == 0
    assert LabelSet({NFD_CAFE: 3}).ids == {NFC_CAFE: 3}
    assert labels.with_label(NFD_CAFE) is labels
