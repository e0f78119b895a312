"""html_text.py: Outlook paragraphs and tables read as lines."""

from __future__ import annotations

from pcse_intake.parsers.html_text import html_to_text


def test_mso_paragraphs_and_nbsp_become_lines() -> None:
    html = '<p class="MsoNormal">Hello,<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
    html += '<p class="MsoNormal">Practice:&nbsp;X<br>Code: A12345</p>'
    assert html_to_text(html) == "Hello,\n\nPractice: X\nCode: A12345"


def test_two_column_table_rows_become_label_value_lines() -> None:
    html = "<table><tr><td><b>Surgery</b></td><td>Ouseburn Surgery</td></tr></table>"
    assert html_to_text(html) == "Surgery: Ouseburn Surgery"


def test_table_with_a_column_per_practice_is_read_column_by_column() -> None:
    html = (
        "<table><tr><td></td><td>Current pharmacy</td><td>New pharmacy</td></tr>"
        "<tr><td>Name</td><td>A</td><td>B</td></tr>"
        "<tr><td>ODS</td><td>FA123</td><td>FB456</td></tr></table>"
    )
    assert html_to_text(html).split("\n") == [
        "Current pharmacy:",
        "Name: A",
        "ODS: FA123",
        "",
        "New pharmacy:",
        "Name: B",
        "ODS: FB456",
    ]


def test_cell_over_several_lines_becomes_one_line() -> None:
    cell = "<p>1 High St</p><p>Leeds</p><p>LS1 1AA</p>"
    html = f"<table><tr><td>Address</td><td>{cell}</td></tr></table>"
    assert html_to_text(html) == "Address: 1 High St, Leeds, LS1 1AA"


def test_scripts_and_styles_are_dropped() -> None:
    html = "<style>p{}</style><script>alert(1)</script><p>kept</p>"
    assert html_to_text(html) == "kept"


def test_deep_nesting_does_not_recurse_without_bound() -> None:
    html = "<div>" * 5000 + "deep" + "</div>" * 5000
    assert "deep" in html_to_text(html)


def test_outlook_paragraph_per_line_keeps_lines_together_and_blank_paragraphs_apart() -> None:
    html = (
        '<div class="WordSection1"><p class="MsoNormal">Address: 1 High St</p>\n'
        '<p class="MsoNormal">Leeds</p>\n<p class="MsoNormal">LS1 1AA</p>\n'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>\n<p class="MsoNormal">Thanks</p></div>'
    )
    assert html_to_text(html) == "Address: 1 High St\nLeeds\nLS1 1AA\n\nThanks"
