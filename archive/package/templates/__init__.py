"""Text templates shipped as package data (VERIFY.txt.j2: seal/VERIFY.txt of each package)."""
