"""Transfer to the e-Depot: each SIP exported (``bewaar export sip``) with the packages it
holds, and the receiving archive's confirmation (the "Overbrenging" of those packages)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.models import package  # noqa: F401 - its packages table is referred to below
from archive.models.base import Base, utcnow


class SipExport(Base):
    """One SIP written to a folder (and perhaps a tar). ``state`` is ``exported`` until the
    receiving archive confirms it (``transferred``: its packages are then transferred)."""

    __tablename__ = "sip_exports"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), index=True)  # exported | transferred
    path: Mapped[str] = mapped_column(Text)
    tar_path: Mapped[str | None] = mapped_column(Text)
    parent: Mapped[str | None] = mapped_column(Text)  # the aggregation in the e-Depot
    objects: Mapped[int] = mapped_column(default=0)  # informatieobjecten
    files: Mapped[int] = mapped_column(default=0)  # bestanden (not .mdto.xml)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sip_hash: Mapped[str] = mapped_column(String(200))  # "SHA-256:<hex>" as in the pakbon
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_by: Mapped[str | None] = mapped_column(String(200))
    confirmed_at: Mapped[datetime | None] = mapped_column()

    items: Mapped[list[SipExportPackage]] = relationship(
        back_populates="export", order_by="SipExportPackage.position")


class SipExportPackage(Base):
    """A package in a SIP, with what the seal check at export found (the SIP's
    "Validatie Handtekening")."""

    __tablename__ = "sip_export_packages"

    sip_id: Mapped[str] = mapped_column(ForeignKey("sip_exports.id"), primary_key=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id"), primary_key=True,
                                            index=True)
    position: Mapped[int] = mapped_column(default=0)
    folder: Mapped[str] = mapped_column(Text)  # its aggregation folder in the SIP
    validation: Mapped[str] = mapped_column(Text)  # the event's result, as in the SIP

    export: Mapped[SipExport] = relationship(back_populates="items")
