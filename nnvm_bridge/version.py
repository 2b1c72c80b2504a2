"""The package version (core: emitters stamp it into the files they write)."""
__version__ = "0.1.0"
