"""Woo requests (Wet open overheid): the grounds for withholding, redaction, and the export.

``woo.grounds``: the grounds of articles 5.1 and 5.2 as a table, and ``parse_ground`` for
what a user types. ``woo.redact``: phrases and spans of a document's text, merged and replaced
by a marker naming their ground. ``woo.export``: the publishable files of a decided request
(a PDF/A per published document, ``inventaris.csv``, a DiWoo ``diwoo:Document`` per published
document, validated against the shipped XSD in ``woo/schema``). What a request and its
documents are is ``archive.models.woo``; the changes are bewaar/services/woo.py.
"""
