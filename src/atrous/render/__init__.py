"""Renderers: terminal tables, matplotlib figures and animations, HTML (filled in later)."""
