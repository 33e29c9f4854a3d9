"""Personal data: a member's access request (export) and erasure (ADR 0050).

This package sits above every domain (as ``patron.models`` does): it reads and anonymises
the member's rows of every table, found through the foreign keys to ``members.id``.
"""
