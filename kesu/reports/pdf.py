"""The report as PDF: one HTML template (reports/report.html) laid out by WeasyPrint.

Fonts are the system's Noto Sans CJK SC (Debian's fonts-noto-cjk, installed by
scripts/install-system-deps.sh), named by family in the CSS; nothing is fetched: the URL
fetcher refuses every URL, so a stray ``<img src=http…>`` cannot make the server call out.
Charts are horizontal SVG bars drawn here, inline in the HTML (no JavaScript, no images).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kesu.reports.service import Report, Row, in_locale, target_text, value_text
from kesu.web.templating import templates

FONT_FAMILY = "Noto Sans CJK SC"
BAR_WIDTH = 300  # px of the longest bar
BAR_HEIGHT = 14
BAR_GAP = 6


class Refused(Exception):
    pass


def refuse_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    """WeasyPrint's URL fetcher: nothing leaves the process (inline data only)."""
    raise Refused(f"report PDFs fetch nothing: {url[:80]}")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    y: int
    width: int


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    height: int
    width: int = BAR_WIDTH + 240


def short(label: str, room: int = 26) -> str:
    """The label cut to what fits beside a bar (a Chinese character is two units wide)."""
    used = 0
    for index, char in enumerate(label):
        used += 1 if char.isascii() else 2
        if used > room:
            return label[:index] + "…"
    return label


def chart(rows: tuple[Row, ...] | list[Row]) -> Chart:
    top = max((r.value for r in rows), default=0.0) or 1.0
    bars = tuple(
        Bar(
            short(r.label),
            r.value,
            i * (BAR_HEIGHT + BAR_GAP),
            max(1, round(BAR_WIDTH * r.value / top)),
        )
        for i, r in enumerate(rows)
    )
    return Chart(bars, max(BAR_HEIGHT, len(bars) * (BAR_HEIGHT + BAR_GAP)))


def html(report: Report) -> str:
    with in_locale(report.locale):
        return templates.env.get_template("reports/report.html").render(
            report=report,
            font=FONT_FAMILY,
            charts={
                "channel": chart(report.by_channel),
                "trend": chart(report.trend),
                "categories": chart(report.categories),
                "products": chart(report.products),
            },
            value_text=value_text,
            target_text=target_text,
            locale=report.locale,
            colon=": " if report.locale == "en" else "：",
        )


def render(report: Report) -> bytes:
    from weasyprint import HTML  # imported on use: it loads pango

    return bytes(HTML(string=html(report), url_fetcher=refuse_fetch).write_pdf())
