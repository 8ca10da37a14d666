"""A bundled ministry-style website served on 127.0.0.1, for the demo and for trying things out."""
