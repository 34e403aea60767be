"""Audiences: rule-based user lists over the refreshed graph, with experiment arms, exports and
measured outcomes (see docs/audiences.md)."""
