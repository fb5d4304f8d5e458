"""Acceptance: drive the complaint skeleton through the API only, user by user, to its ends."""
from __future__ import annotations

START = {"channel": "sme_platform", "appeal_type": "complaint", "urgency": "normal",
         "complainant_name": "梁志强", "phone": "13800000001", "company_name": "江门市蓬江区示例五金制品有限公司",
         "uscc": "91440703MAKLKB3T82", "district": "蓬江区", "title": "某镇政府工程尾款逾期未付",
         "content": "2025年6月交付围墙改造工程，合同约定验收后30日付款，至今未付48.6万元。"}
REGISTER = {**{k: v for k, v in START.items()}, "in_scope": True}
STEPS = [
    ("register", "intake1", "intake", REGISTER),
    ("assess", "dispatch1", "dispatch", {"urgency": "normal", "appeal_type": "complaint",
                                         "handler_org": "棠下镇人民政府"}),
    ("handle", "handler1", "handler", {"investigation": "已核实合同与验收单。", "measures": "督促镇政府支付。",
                                       "on_site": False}),
    ("reply", "handler1", "handler", {"result_code": "已解决", "reply_text": "已协调于10月底前付清。",
                                      "reply_method": "电话"}),
    ("callback", "callback1", "callback", {"contacted": True, "resolved": True, "satisfaction": "满意"}),
]


def _group_inbox(api, user):
    resp = api.get("/api/v1/tasks?scope=group", user=user)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_complaint_walks_from_start_to_closed_through_the_api(seeded, api):
    resp = api.post("/api/v1/process-definitions/complaint/start", user="intake1", json={"data": START})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    instance_id = body["instance"]["id"]
    assert body["case"]["number"].startswith("JM-")
    assert body["case"]["channel"] == "sme_platform" and body["case"]["district"] == "蓬江区"
    assert [t["bpmn_id"] for t in body["tasks"]] == ["register"]
    assert body["tasks"][0]["candidate_groups"] == ["intake"]

    for bpmn_id, user, group, data in STEPS:
        inbox = _group_inbox(api, user)
        mine = [t for t in inbox["items"] if t["instance_id"] == instance_id]
        assert [t["bpmn_id"] for t in mine] == [bpmn_id], (user, inbox)
        assert mine[0]["candidate_groups"] == [group]
        task_id = mine[0]["id"]
        # nobody outside the group sees it
        other = "callback1" if user != "callback1" else "intake1"
        assert all(t["id"] != task_id for t in _group_inbox(api, other)["items"])

        detail = api.get(f"/api/v1/tasks/{task_id}", user=user).get_json()
        assert detail["form_schema"]["type"] == "object"
        assert detail["data"]["content"] == START["content"]     # prefilled from the case data

        claimed = api.post(f"/api/v1/tasks/{task_id}/claim", user=user)
        assert claimed.status_code == 200 and claimed.get_json()["assignee_id"] is not None
        assert [t["id"] for t in api.get("/api/v1/tasks?scope=mine", user=user).get_json()["items"]] == [task_id]
        done = api.post(f"/api/v1/tasks/{task_id}/complete", user=user, json={"data": data})
        assert done.status_code == 200, done.get_json()
        assert done.get_json()["status"] == "completed"

    inst = api.get(f"/api/v1/process-instances/{instance_id}", user="intake1").get_json()
    assert inst["status"] == "completed"
    assert inst["case"]["status"] == "closed"
    assert inst["open_tasks"] == []
    assert inst["data"]["limit_value"] == 168 and inst["data"]["limit_unit"] == "H"   # the SME platform limit
    assert inst["data"]["satisfaction"] == "满意"
    completions = [(h["bpmn_id"], h["actor"]) for h in inst["history"] if h["action"] == "complete"]
    assert completions == [(step, user) for step, user, _, _ in STEPS]
    actions = [h["action"] for h in inst["history"]]
    assert actions[0] == "start" and actions[-1] == "end"
    assert actions.count("claim") == len(STEPS)
    assert all(h["at"] for h in inst["history"])
    times = [h["at"] for h in inst["history"]]
    assert times == sorted(times)


def test_out_of_scope_ends_with_the_rejection_notice(seeded, api):
    started = api.post("/api/v1/process-definitions/complaint/start", user="intake1", json={"data": START}).get_json()
    task_id = started["tasks"][0]["id"]
    data = {**REGISTER, "in_scope": False, "out_of_scope_reason": "不属于本市管辖范围",
            "out_of_scope_advice": "请向注册地所在市 12345 反映。"}
    resp = api.post(f"/api/v1/tasks/{task_id}/complete", user="intake1", json={"data": data})
    assert resp.status_code == 200, resp.get_json()
    inst = api.get(f"/api/v1/process-instances/{started['instance']['id']}", user="intake1").get_json()
    assert inst["status"] == "completed"
    assert "limit_value" not in inst["data"]                  # never reached assessment
    assert inst["data"]["out_of_scope_reason"] == "不属于本市管辖范围"
    assert [h["bpmn_id"] for h in inst["history"] if h["action"] == "complete"] == ["register"]
