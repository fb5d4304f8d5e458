"""Sample form data shared by tests: the DOMAIN §6.1 tickets the demo cases use too (app/demo.py)."""
from __future__ import annotations

from app.demo import ASSESS, SME  # noqa: F401

START = SME
REGISTER = {**START, "in_scope": True}
