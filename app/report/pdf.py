"""The report as PDF: the HTML template laid out by QTextDocument and painted page by page into QPdfWriter.

QTextDocument does not read data: URIs, so every image is registered as a named document
resource and the template refers to it by that name.

The document is paginated here rather than by ``QTextDocument.print_``, because Qt splits table
rows across pages: a card would lose its numbers to the next page, a figure its caption. A table
that would straddle a page break starts a new page instead, with its heading, when it is shorter
than KEEP_TOGETHER of a page or opens with a title of its own (a figure).

Lengths in the HTML are in the screen's logical pixels (96 per inch on most platforms, 72 on
macOS), the unit QTextDocument lays out in; pages are drawn scaled from it onto A4.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6 import QtCore, QtGui

from .figures import Figure, ensure_application
from .html import PRINT, render_html
from .images import card_thumbnails
from .model import ReportData

PAGE = QtGui.QPageSize.PageSizeId.A4
MARGIN_MM = 18.0
KEEP_TOGETHER = 0.6  # tables shorter than this share of a page are never split; titled ones (figures) never
FOOTER_POINT_SIZE = 8


def write_pdf(data: ReportData, figures: list[Figure], path: Path) -> Path:
    """An A4 PDF of the report at ``path``, with the title and page numbers in the footer."""
    ensure_application()
    dpi = QtGui.QGuiApplication.primaryScreen().logicalDotsPerInchX()
    page_mm = QtGui.QPageSize(PAGE).size(QtGui.QPageSize.Unit.Millimeter)
    body = QtCore.QSizeF((page_mm.width() - 2 * MARGIN_MM) / 25.4 * dpi, (page_mm.height() - 2 * MARGIN_MM) / 25.4 * dpi)

    document = QtGui.QTextDocument()
    images = {figure.name: figure.png for figure in figures} | card_thumbnails(data, PRINT.thumbnail_px)
    for name, png in images.items():
        document.addResource(QtGui.QTextDocument.ResourceType.ImageResource, QtCore.QUrl(name), QtGui.QImage.fromData(png))
    layout = replace(PRINT, figure_width=min(PRINT.figure_width, int(body.width()) - 16))  # 16 px: cell padding, borders
    document.setHtml(render_html(data, figures, {name: name for name in images}, layout))
    _keep_tables_together(document, body)

    writer = QtGui.QPdfWriter(str(path))
    writer.setPageSize(QtGui.QPageSize(PAGE))
    writer.setPageMargins(QtCore.QMarginsF(0, 0, 0, 0))
    writer.setTitle(f"GenLoupe report: {data.title}")
    writer.setCreator("GenLoupe")
    _paint_pages(document, writer, dpi, f"GenLoupe report: {data.title}")
    if not path.is_file() or path.stat().st_size == 0:
        raise OSError(0, "the PDF could not be written", str(path))
    return path


def _keep_tables_together(document: QtGui.QTextDocument, body: QtCore.QSizeF) -> None:
    """Paginate ``document`` at ``body`` so that no short table straddles a page break, no heading ends a page.

    Items are checked in reading order and the first bad break is fixed by starting a new page
    (a straddling table moves together with the heading and caption paragraphs right before it),
    then the document is laid out again. Table heights are compared unbroken (laid out on one
    endless page), since a straddling table is inflated by the gap at the page break.
    """
    items = _top_level_items(document)
    document.setPageSize(QtCore.QSizeF(body.width(), 1e9))
    natural = {i: document.documentLayout().frameBoundingRect(item).height()
               for i, item in enumerate(items) if isinstance(item, QtGui.QTextTable)}
    document.setPageSize(body)
    broken: set[int] = set()
    while (target := _first_bad_break(document, items, natural, broken)) is not None:
        broken.add(target)
        _break_before(items[target])


def _first_bad_break(document: QtGui.QTextDocument, items: list[QtGui.QTextBlock | QtGui.QTextTable],
                     natural: dict[int, float], broken: set[int]) -> int | None:
    """Index of the item that should start a new page, or None when the pagination is fine."""
    layout = document.documentLayout()
    page = document.pageSize().height()

    def page_of(item: QtGui.QTextBlock | QtGui.QTextTable) -> int:
        block = item.firstCursorPosition().block() if isinstance(item, QtGui.QTextTable) else item
        return int(layout.blockBoundingRect(block).top() // page)

    for i, item in enumerate(items):
        if isinstance(item, QtGui.QTextTable):
            rect = layout.frameBoundingRect(item)
            straddles = rect.top() // page != (rect.bottom() - 1) // page
            titled = item.firstCursorPosition().block().blockFormat().headingLevel() > 0
            limit = page if titled else KEEP_TOGETHER * page
            if straddles and natural[i] < limit and _lead_in(items, i) not in broken:
                return _lead_in(items, i)
        elif item.blockFormat().headingLevel() and i + 1 < len(items) and i not in broken:
            if page_of(item) < page_of(items[i + 1]):
                return i
    return None


def _top_level_items(document: QtGui.QTextDocument) -> list[QtGui.QTextBlock | QtGui.QTextTable]:
    """The document's top-level paragraphs (empty ones left out) and tables, in reading order."""
    items: list[QtGui.QTextBlock | QtGui.QTextTable] = []
    seen: set[int] = set()
    block = document.begin()
    while block.isValid():
        table = QtGui.QTextCursor(block).currentTable()
        while table is not None and table.parentFrame() != document.rootFrame():
            table = table.parentFrame()
        if table is None:
            if block.text().strip():
                items.append(block)
        elif table.firstPosition() not in seen:
            seen.add(table.firstPosition())
            items.append(table)
        block = block.next()
    return items


def _lead_in(items: list[QtGui.QTextBlock | QtGui.QTextTable], i: int, most: int = 3) -> int:
    """Index of the first of the (at most ``most``) paragraphs right before table ``i``: its heading and caption."""
    first = i
    while first > 0 and i - first < most and isinstance(items[first - 1], QtGui.QTextBlock):
        first -= 1
    return first


def _break_before(item: QtGui.QTextBlock | QtGui.QTextTable) -> None:
    always = QtGui.QTextFormat.PageBreakFlag.PageBreak_AlwaysBefore
    if isinstance(item, QtGui.QTextTable):
        table_format = item.format()
        table_format.setPageBreakPolicy(always)
        item.setFormat(table_format)
    else:
        block_format = item.blockFormat()
        block_format.setPageBreakPolicy(always)
        QtGui.QTextCursor(item).setBlockFormat(block_format)


def _paint_pages(document: QtGui.QTextDocument, writer: QtGui.QPdfWriter, dpi: float, title: str) -> None:
    body = document.pageSize()
    scale = writer.resolution() / dpi  # writer device pixels per document pixel
    margin = MARGIN_MM / 25.4 * writer.resolution()
    pages = document.pageCount()
    footer_font = QtGui.QFont(document.defaultFont())
    footer_font.setPointSizeF(FOOTER_POINT_SIZE)
    painter = QtGui.QPainter(writer)
    try:
        for page in range(pages):
            if page:
                writer.newPage()
            painter.save()
            painter.translate(margin, margin)
            painter.scale(scale, scale)
            painter.translate(0, -page * body.height())
            document.drawContents(painter, QtCore.QRectF(0, page * body.height(), body.width(), body.height()))
            painter.restore()
            painter.setFont(footer_font)
            painter.setPen(QtGui.QColor("#5a5a5a"))
            footer = QtCore.QRectF(margin, writer.height() - margin * 0.75, writer.width() - 2 * margin, margin / 2)
            painter.drawText(footer, QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter, title)
            painter.drawText(footer, QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter, f"{page + 1} / {pages}")
    finally:
        painter.end()
