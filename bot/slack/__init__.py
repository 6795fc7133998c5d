"""Slack adapters for fmccert, and a local stand-in for Slack's servers."""
