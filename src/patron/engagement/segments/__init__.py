"""Segments: rules over members evaluated in SQL, materialised and kept current."""
