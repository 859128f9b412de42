"""The small words of generated prose (helpers/report/wording.py)."""
from helpers.report.wording import counted, joined, lists_opened, noun, span


def test_counts_lists_and_spans_read_as_sentences():
    assert counted(1, "epoch") == "1 epoch" and counted(3, "mode") == "3 modes" and noun(2, "axis", "axes") == "axes"
    assert joined(["a"]) == "a" and joined(["a", "b", "c"]) == "a, b and c" and joined([]) == ""
    assert span([0.851, 1.02]) == "0.85–1.02" and span([1.001, 0.999]) == "1.00" and span([2.0, 3.0], ".1f") == "2.0–3.0"


def test_a_list_after_a_paragraph_line_gets_its_blank_line():
    assert lists_opened("Intro.\n- a\n  more of a\n- b") == "Intro.\n\n- a\n  more of a\n- b"
    assert lists_opened("- a\nlazy continuation of a\n- b") == "- a\nlazy continuation of a\n- b"  # one list
    assert lists_opened("# Heading\n- a") == "# Heading\n- a"
    assert lists_opened("Para.\n\n- a") == "Para.\n\n- a"
