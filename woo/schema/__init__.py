"""The DiWoo XSD 0.9.8 (see NOTE.md); a package only so that it is installed with woo."""
