"""The MDTO-XML 1.0.1 schema shipped as package data (see NOTE.md)."""
