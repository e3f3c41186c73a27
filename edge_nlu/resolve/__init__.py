"""Meaning + home -> Home Assistant action: entity matching, media, numbers and spoken answers."""
