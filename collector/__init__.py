"""parcelproof's collector: everything up to stored, normalised tracking data."""

__version__ = "0.1.0"
