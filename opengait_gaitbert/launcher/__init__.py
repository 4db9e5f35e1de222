"""Command line: locate OpenGait, register GaitBERT, run OpenGait's own main flow."""
