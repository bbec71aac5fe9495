"""Remix: a consent-first fan remix service."""

__version__ = "0.1.0"
