from __future__ import annotations

import json
import time

import pytest

from app.integration.signing import signature

SECRET = "test-secret-of-the-12345-platform"
JW_SECRET = "test-secret-of-the-jw-case-system"

# DOMAIN §6.1 sample tickets, as the platforms send them (channel comes from the platform)
HOTLINE_TICKET = {
    "ticket_no": "JM-2025-0926-000122", "appeal_type": "consult", "category": ["惠企政策兑现"], "urgency": "normal",
    "complainant_name": "陈颖", "phone": "0750-3271234", "company_name": "江门市江海区示例电子科技有限公司",
    "uscc": "91440704MAMM04DN9H", "district": "江海区", "title": "技改补贴申报截止时间",
    "content": "咨询2025年技改补贴申报截止时间及所需材料。"}
SME_TICKET = {
    "ticket_no": "JM-2025-0929-000318", "appeal_type": "complaint", "category": ["拖欠账款"], "urgency": "normal",
    "complainant_name": "梁志强", "id_type": "居民身份证", "id_number": "440703197211142916", "phone": "13800000001",
    "company_name": "江门市蓬江区示例五金制品有限公司", "uscc": "91440703MAKLKB3T82", "district": "蓬江区",
    "town": "棠下镇", "title": "某镇政府工程尾款逾期未付",
    "content": "2025年6月交付围墙改造工程，合同约定验收后30日付款，至今未付48.6万元。", "respondent_org": "某镇人民政府",
    "amount": 486000.0}


def add_client(name: str, secret: str, callback: str | None = "http://127.0.0.1:9/none", enabled: bool = True):
    from app.extensions import db
    from app.integration.models import IntegrationClient
    client = IntegrationClient(name=name, secret=secret, callback_url=callback, enabled=enabled)
    db.session.add(client)
    db.session.commit()
    return client.id


class Signed:
    """Signed requests through the Flask test client."""

    def __init__(self, client, platform="hotline_12345", secret=SECRET):
        self.client, self.platform, self.secret = client, platform, secret

    def post(self, path, payload, *, timestamp=None, secret=None, body=None, headers=None, platform=None):
        body = body if body is not None else json.dumps(payload, ensure_ascii=False).encode()
        ts = int(time.time()) if timestamp is None else timestamp
        sent = {"Content-Type": "application/json", "X-Wuyi-Timestamp": str(ts),
                "X-Wuyi-Signature": "sha256=" + signature(secret or self.secret, ts, body)}
        if headers is not None:
            sent = headers
        app = self.client.application
        with app.app_context():
            return self.client.post(f"/api/v1/integration/{platform or self.platform}{path}", data=body, headers=sent)

    def ticket(self, payload, **kw):
        return self.post("/tickets", payload, **kw)


@pytest.fixture
def hotline(seeded, client):
    add_client("hotline_12345", SECRET)
    return Signed(client)


@pytest.fixture
def jw(seeded, client):
    add_client("jw_case", JW_SECRET)
    return Signed(client, "jw_case", JW_SECRET)
