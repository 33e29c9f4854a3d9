"""Server-rendered pages: the merchant dashboard and the member portal.

Adding a page: write a module under ``web/dashboard/`` (or ``web/portal/``) exposing ``router`` and
``NAV``, put its templates under ``web/templates/``, and add the module to ``web/registry.py``.
See docs/dashboard.md.
"""
