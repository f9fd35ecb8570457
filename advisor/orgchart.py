"""The relationship map as inline SVG, drawn here so that it shows wherever the HTML brief does.

Mermaid needs a script that mail and chat apps never run; this needs none. People sit in rows by
level (senior first), in the order of their reporting tree, so a manager is near their reports;
reporting lines are arrows, informal ties labelled dashed curves; insiders carry a star and a tint,
attendees a thick border. Boxes are sized from their text (a CJK character is about one em, a Latin
one a little over half), every coordinate is a whole number and the order is the profile's, so the
same profile always gives the same bytes. Every text passes through the caller's `escape`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from markupsafe import Markup

from .canonical import LEVEL_RANK
from .profile import Profile, Stakeholder

NAME_PX, SUB_PX, TIE_PX = 14, 12, 12  # font sizes of a name, its title line and a tie's label
PAD, GAP, ROW_GAP, MARGIN = 8, 16, 52, 8
BOX_H = 44
MIN_W, MAX_SUB_EM = 88, 14
LINE = 'fill="none" stroke="#555" stroke-width="1.5"'  # a reporting line's look where no stylesheet reaches


def text_em(text: str) -> float:
    """About how wide `text` is, in ems: wide (CJK) characters one em, others 0.62 (generous for Latin)."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.62 for ch in text)


def shortened(text: str, max_em: float) -> str:
    """`text`, cut with "…" so that it is at most `max_em` wide."""
    if text_em(text) <= max_em:
        return text
    out = ""
    for ch in text:
        if text_em(out + ch) > max_em - 1:
            break
        out += ch
    return out.rstrip() + "…"


def tree_order(people: list[Stakeholder]) -> list[Stakeholder]:
    """The people depth first along reporting lines, roots and siblings in the profile's order."""
    ids = {s.id for s in people}
    children: dict[str | None, list[Stakeholder]] = {}
    for s in people:
        children.setdefault(s.reports_to if s.reports_to in ids else None, []).append(s)
    out: list[Stakeholder] = []
    seen: set[str] = set()

    def visit(s: Stakeholder) -> None:
        if s.id in seen:  # a reporting loop (the profile allows none, but the map must still end)
            return
        seen.add(s.id)
        out.append(s)
        for child in children.get(s.id, ()):
            visit(child)

    for s in [*children.get(None, ()), *people]:
        visit(s)
    return out


def org_chart(
    profile: Profile, attendees: Iterable[str], values: dict[str, Any], escape: Callable[[Any], str], title: str
) -> Markup:
    """The map of `profile`'s people as one <svg> element (empty Markup when there are none)."""
    people = tree_order(list(profile.stakeholders))
    if not people:
        return Markup("")
    attending = set(attendees)
    rows: dict[int, list[Stakeholder]] = {}
    for s in people:
        rows.setdefault(LEVEL_RANK[s.level], []).append(s)
    labels = {s.id: (("★ " if s.insider != "none" else "") + s.name, shortened(s.title, MAX_SUB_EM)) for s in people}
    widths = {
        s.id: max(MIN_W, round(max(text_em(labels[s.id][0]) * NAME_PX, text_em(labels[s.id][1]) * SUB_PX)) + 2 * PAD)
        for s in people
    }
    row_widths = {rank: sum(widths[s.id] for s in row) + GAP * (len(row) - 1) for rank, row in rows.items()}
    width = max(row_widths.values()) + 2 * MARGIN
    boxes: dict[str, tuple[int, int, int]] = {}  # id -> x, y, width
    for n, rank in enumerate(sorted(rows)):
        x, y = MARGIN + (width - 2 * MARGIN - row_widths[rank]) // 2, MARGIN + n * (BOX_H + ROW_GAP)
        for s in rows[rank]:
            boxes[s.id] = (x, y, widths[s.id])
            x += widths[s.id] + GAP
    ties = [(s, tie) for s in profile.stakeholders for tie in s.ties if tie.with_ in boxes]
    # Room below the last row for the ties that bow into it.
    height = MARGIN * 2 + len(rows) * BOX_H + (len(rows) - 1) * ROW_GAP + (ROW_GAP // 2 + 12 if ties else 0)
    index = {s.id: f"p{i}" for i, s in enumerate(profile.stakeholders)}  # positions, never profile text

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="org-chart" role="img" aria-labelledby="map-title" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f'<title id="map-title">{escape(title)}</title>',
        # Presentation attributes: the colours where no stylesheet reaches (a PDF); the page's CSS overrides them.
        '<g font-family="sans-serif" text-anchor="middle">',
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0 0L8 4L0 8z" class="arrow" fill="#555"/></marker></defs>',
    ]
    for s in people:  # reporting lines, under the boxes
        if s.reports_to in boxes:
            out.append(_reporting_line(boxes[s.reports_to], boxes[s.id]))
    for n, (s, tie) in enumerate(ties):
        out.append(_tie(boxes[s.id], boxes[tie.with_], escape(values["tie"][tie.kind]), n))
    for s in people:
        x, y, w = boxes[s.id]
        insider, attends = s.insider != "none", s.id in attending
        kinds = "node" + (" insider" if insider else "") + (" attending" if attends else "")
        fill, stroke = ("#e3f2e6", "#1b6e35") if insider else ("#f4f5f7", "#999")
        stroke, thick = ("#0a58a8", 3) if attends else (stroke, 1)
        name, sub = labels[s.id]
        out.append(
            f'<g class="{kinds}" data-person="{index[s.id]}"><rect x="{x}" y="{y}" width="{w}" height="{BOX_H}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{thick}"/>'
            f'<text x="{x + w // 2}" y="{y + 18}" class="name" font-size="{NAME_PX}" font-weight="600">{escape(name)}</text>'
            f'<text x="{x + w // 2}" y="{y + 34}" class="sub" font-size="{SUB_PX}" fill="#333">{escape(sub)}</text></g>'
        )
    out.append("</g></svg>")
    return Markup("".join(out))


def _reporting_line(manager: tuple[int, int, int], report: tuple[int, int, int]) -> str:
    (mx, my, mw), (rx, ry, rw) = manager, report
    if my < ry:  # the usual case: down from the manager's bottom to the report's top
        x1, y1, x2, y2 = mx + mw // 2, my + BOX_H, rx + rw // 2, ry
        mid = (y1 + y2) // 2
        return f'<path class="reports" d="M{x1} {y1}C{x1} {mid} {x2} {mid} {x2} {y2}" {LINE} marker-end="url(#arrow)"/>'
    # A report on the same row as (or above) their manager: side to side.
    left = mx + mw <= rx
    x1, x2 = (mx + mw, rx) if left else (mx, rx + rw)
    return f'<path class="reports" d="M{x1} {my + BOX_H // 2}L{x2} {ry + BOX_H // 2}" {LINE} marker-end="url(#arrow)"/>'


def _tie(a: tuple[int, int, int], b: tuple[int, int, int], label: str, n: int) -> str:
    """A dashed curve between two boxes with its label on a plate at the curve's middle: bowed into the
    gap below them when they share a row, else from the upper box's bottom to the lower one's top,
    bowed sideways."""
    (ax, ay, aw), (bx, by, bw) = sorted((a, b), key=lambda box: (box[1], box[0]))
    x1, x2 = ax + aw // 2, bx + bw // 2
    if ay == by:
        y1 = y2 = ay + BOX_H
        cx, cy = (x1 + x2) // 2, y1 + ROW_GAP // 2 + 8 * (n % 3)
    else:
        y1, y2 = ay + BOX_H, by
        side = 1 if x2 >= x1 else -1
        cx, cy = (x1 + x2) // 2 + side * (48 + 12 * (n % 3)), (y1 + y2) // 2
    lx, ly = (x1 + 2 * cx + x2) // 4, (y1 + 2 * cy + y2) // 4  # the curve at its middle (t = 1/2)
    w = round(text_em(str(label)) * TIE_PX) + 8
    return (
        f'<path class="tie" d="M{x1} {y1}Q{cx} {cy} {x2} {y2}" fill="none" stroke="#0a58a8" stroke-width="1.5" stroke-dasharray="5 4"/>'
        f'<rect class="tie-plate" x="{lx - w // 2}" y="{ly - 9}" width="{w}" height="17" rx="3" fill="#fff"/>'
        f'<text class="tie-label" x="{lx}" y="{ly + 4}" font-size="{TIE_PX}" fill="#0a58a8">{label}</text>'
    )
