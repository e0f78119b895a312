"""HTML mail (Outlook's MsoNormal paragraphs, tables of cells) to plain text lines.

selectolax's lexbor backend parses like a browser (HTML5 tree building, entities such as
`&nbsp;`) in C, about 20x faster than BeautifulSoup + html.parser on Outlook mail. We walk
its tree ourselves because the layout carries meaning: a two-column table row becomes
`label: value`, and a table with one column per practice is read column by column.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

_BLOCK = frozenset(
    [
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "address",
        "section",
        "article",
        "header",
        "footer",
        "tr",
        "dl",
        "dt",
        "dd",
        "hr",
        "center",
        "form",
        "fieldset",
    ]
)
_SKIP = frozenset(
    ["head", "style", "script", "title", "template", "noscript", "xml", "object", "svg", "iframe"]
)
_SPACE = re.compile(r"[ \t\r\n\f\u00a0\u200b]+")
# Recursion stops here; anything deeper is read as flat text by lexbor itself.
MAX_DEPTH = 120


def html_to_text(html: str) -> str:
    """The readable text of an HTML document, one paragraph or table row per line."""
    tree = LexborHTMLParser(html)
    root = tree.body or tree.root
    if root is None:
        return ""
    out: list[str] = []
    _render(root, out, 0)
    text = "".join(out)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    # keep single blank lines (paragraph breaks), drop runs of them
    cleaned: list[str] = []
    for line in lines:
        if line or (cleaned and cleaned[-1]):
            cleaned.append(line)
    return "\n".join(cleaned).strip()


def _render(node: LexborNode, out: list[str], depth: int) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            piece = _SPACE.sub(" ", child.text(deep=False) or "")
            if piece.strip() or (out and not out[-1].endswith("\n")):
                out.append(piece)  # whitespace between blocks is layout, not text
        elif tag in _SKIP or tag in ("-comment", None):
            continue
        elif tag == "br":
            out.append("\n")
        elif tag == "table":
            out.append("\n")
            out.extend(_render_table(child, depth + 1))
            out.append("\n")
        elif depth >= MAX_DEPTH:
            out.append(_SPACE.sub(" ", child.text(deep=True) or ""))
        elif tag in _BLOCK:
            # Outlook writes one <p> per line, and an empty <p>&nbsp;</p> for a blank line
            _line_break(out)
            start = len(out)
            _render(child, out, depth + 1)
            if "".join(out[start:]).strip():
                _line_break(out)
            elif tag == "p" or tag == "div":
                out.append("\n")
        elif tag in ("td", "th"):
            out.append(" ")
            _render(child, out, depth + 1)
            out.append(" ")
        else:
            _render(child, out, depth + 1)


def _line_break(out: list[str]) -> None:
    """End the current line, once: consecutive block boundaries make one line break."""
    if out and not out[-1].endswith("\n"):
        out.append("\n")


def _cell_text(cell: LexborNode, depth: int) -> str:
    """A cell as one line: its own lines joined with ', ' (an address over several lines)."""
    out: list[str] = []
    _render(cell, out, depth + 1)
    lines = [" ".join(line.split()) for line in "".join(out).split("\n")]
    return ", ".join(line for line in lines if line)


def _render_table(table: LexborNode, depth: int) -> list[str]:
    rows: list[list[str]] = []
    for row in _rows(table):
        cells = [_cell_text(c, depth) for c in row.iter() if c.tag in ("td", "th")]
        if any(cells):
            rows.append(cells)
    if not rows:
        return []
    width = max(len(r) for r in rows)
    if width >= 3 and not rows[0][0] and all(rows[0][1:]):
        return _by_column(rows)
    lines: list[str] = []
    for cells in rows:
        filled = [c for c in cells if c]
        if len(cells) >= 2 and cells[0] and len(filled) >= 2:
            lines.append(f"{cells[0]}: {' | '.join(filled[1:])}\n")
        else:
            lines.append(" | ".join(filled) + "\n")
    return lines


def _by_column(rows: list[list[str]]) -> list[str]:
    """A table with a header row of practices: read each practice's column as a block."""
    header, body = rows[0], rows[1:]
    lines: list[str] = []
    for col in range(1, len(header)):
        lines.append(f"\n{header[col]}:\n")
        for cells in body:
            if col < len(cells) and cells[0] and cells[col]:
                lines.append(f"{cells[0]}: {cells[col]}\n")
    return lines


def _rows(table: LexborNode) -> list[LexborNode]:
    """This table's own rows (inside thead/tbody/tfoot), not those of nested tables."""
    rows: list[LexborNode] = []
    for child in table.iter():
        if child.tag == "tr":
            rows.append(child)
        elif child.tag in ("thead", "tbody", "tfoot"):
            rows.extend(r for r in child.iter() if r.tag == "tr")
    return rows
