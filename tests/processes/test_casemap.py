"""The case row kept from workflow data (app/processes/casemap.py): confidentiality follows the data
after each step, scripts' data included, and only ever turns on."""
from __future__ import annotations


def test_confidentiality_follows_the_data_a_script_set_and_never_turns_off(app, db):
    from app.cases.models import Case
    from app.db import utcnow
    from app.processes import casemap
    now = utcnow()
    case = Case(process_key="complaint", title="t", created_at=now, is_confidential=False)
    db.session.add(case)
    db.session.commit()

    def step(data):
        casemap.sync_case(db.session.connection(), case.id, "complaint", data={"title": "t", **data},
                          routed=False, ended=False, now=now)
        db.session.commit()
        db.session.refresh(case)
        return case.is_confidential
    assert step({}) is False
    assert step({"hide_identity": True}) is True      # e.g. 移送纪委监委's script, no form submitted
    assert step({"hide_identity": False}) is True     # a confidential case stays confidential
    assert step({"title": "新标题"}) is True and case.title == "新标题"
