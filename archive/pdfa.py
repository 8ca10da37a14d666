"""Text documents as PDF/A-2b: headings, paragraphs and tables, nothing else.

A caller builds a :class:`TextDocument` from what it means to publish and calls
:func:`render`; only what was added is written (a Woo export leaves redacted text out simply by
never adding it). PDF/A-2b needs, and this module gives:

- every font embedded: DejaVu Sans from the system (Debian's ``fonts-dejavu-core``), found in
  the usual font folders or named by ``font_dir``; no font is downloaded;
- XMP metadata with ``pdfaid:part`` 2 and ``pdfaid:conformance`` B, matching the document's
  information dictionary (fpdf2 writes both from the same values);
- an output intent with an sRGB ICC profile: ``sRGB2014.icc`` of the International Color
  Consortium, which fpdf2 ships in its package (``fpdf/data/color_profiles``);
- no encryption, no JavaScript, no transparency; a document id in the trailer.

The PDF itself is written by fpdf2 (``enforce_compliance="PDF/A-2B"``, which refuses what
PDF/A forbids, such as unembedded base fonts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from archive.errors import BewaarError

FONT_NAME = "DejaVuSans"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
             Path("/usr/local/share/fonts/dejavu"), Path("/usr/share/fonts/TTF"))


class PdfError(BewaarError):
    """A PDF could not be written (no font to embed, a bad document)."""


@dataclass
class TextDocument:
    """A document of headings, paragraphs and tables, in the order they are added."""

    title: str
    author: str  # the organisation, as the document's creator
    subject: str = ""
    lang: str = "nl-NL"
    created: datetime | None = None
    blocks: list[tuple[str, object]] = field(default_factory=list)

    def heading(self, text: str) -> TextDocument:
        self.blocks.append(("heading", text))
        return self

    def paragraph(self, text: str) -> TextDocument:
        self.blocks.append(("paragraph", text))
        return self

    def facts(self, rows: list[tuple[str, str]]) -> TextDocument:
        """Label: value lines (who, when, what), the label in bold."""
        self.blocks.append(("facts", list(rows)))
        return self

    def table(self, header: list[str], rows: list[list[str]],
              widths: list[int] | None = None) -> TextDocument:
        self.blocks.append(("table", (list(header), [list(r) for r in rows], widths)))
        return self


def find_font_dir(font_dir: Path | None = None) -> Path:
    """The folder holding DejaVu Sans (regular and bold)."""
    for d in ([font_dir] if font_dir else []) + list(FONT_DIRS):
        if all((d / f).is_file() for f in FONT_FILES.values()):
            return d
    raise PdfError("no DejaVu Sans font to embed (PDF/A needs one): install the Debian "
                   "package fonts-dejavu-core")


def render(doc: TextDocument, font_dir: Path | None = None) -> bytes:
    """The document as PDF/A-2b bytes."""
    import fpdf
    from fpdf import FPDF
    from fpdf.enums import OutputIntentSubType
    from fpdf.fonts import FontFace
    from fpdf.output import PDFICCProfile

    fonts = find_font_dir(font_dir)
    pdf = FPDF(format="A4", enforce_compliance="PDF/A-2B")
    pdf.set_compression(True)
    for style, name in FONT_FILES.items():
        pdf.add_font(FONT_NAME, style, str(fonts / name))
    created = (doc.created or datetime.now(UTC)).astimezone(UTC)
    pdf.set_title(doc.title)
    pdf.set_author(doc.author)
    pdf.set_subject(doc.subject or doc.title)
    pdf.set_creator("Bewaarplaats")
    pdf.set_producer("Bewaarplaats (fpdf2)")
    pdf.set_creation_date(created)
    pdf.set_lang(doc.lang)
    icc = Path(fpdf.__file__ or "").parent / "data" / "color_profiles" / "sRGB2014.icc"
    if icc.is_file():  # the same profile fpdf2 would add itself; named here to say which
        pdf.add_output_intent(
            OutputIntentSubType.PDFA, output_condition_identifier="sRGB",
            output_condition="IEC 61966-2-1:1999", registry_name="http://www.color.org",
            dest_output_profile=PDFICCProfile(contents=icc.read_bytes(), n=3,
                                              alternate="DeviceRGB"),
            info="sRGB2014 (v2)")
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    pdf.set_font(FONT_NAME, "B", 15)
    pdf.multi_cell(0, 8, doc.title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for kind, body in doc.blocks:
        if kind == "heading":
            pdf.ln(3)
            pdf.set_font(FONT_NAME, "B", 12)
            pdf.multi_cell(0, 6.5, str(body), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif kind == "paragraph":
            pdf.set_font(FONT_NAME, "", 10)
            pdf.multi_cell(0, 5, str(body), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "facts":
            assert isinstance(body, list)
            pdf.set_font(FONT_NAME, "", 10)
            for label, value in body:
                pdf.set_font(FONT_NAME, "B", 10)
                pdf.cell(55, 5.5, label)
                pdf.set_font(FONT_NAME, "", 10)
                pdf.multi_cell(0, 5.5, value, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "table":
            assert isinstance(body, tuple)
            header, rows, widths = body
            pdf.set_font(FONT_NAME, "", 8.5)
            with pdf.table(col_widths=tuple(widths) if widths else None,
                           headings_style=FontFace(emphasis="BOLD"), line_height=4.6,
                           text_align="LEFT") as table:
                top = table.row()
                for h in header:
                    top.cell(h)
                for r in rows:
                    row = table.row()
                    for value in r:
                        row.cell(value)
            pdf.ln(3)
        else:
            raise PdfError(f"unknown block {kind!r}")
    try:
        return bytes(pdf.output())
    except Exception as exc:  # noqa: BLE001 - fpdf2 raises several kinds
        raise PdfError(f"cannot write the PDF: {exc}") from None
