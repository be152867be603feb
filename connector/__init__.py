"""Resend destination connector: Segment-style events on Kafka -> Resend contacts, properties, segments."""

__all__ = ["__version__"]

__version__ = "0.1.0"
