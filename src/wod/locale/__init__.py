"""Gettext catalogues of the participant-facing texts, one folder per language."""
