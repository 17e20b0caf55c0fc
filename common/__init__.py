"""Pieces every layer uses: configuration, the clock, template rendering, reply and sending types."""
