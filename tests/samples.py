"""Sample form data shared by tests (DOMAIN §6.1, the SME platform ticket)."""
from __future__ import annotations

START = {"channel": "sme_platform", "appeal_type": "complaint", "urgency": "normal",
         "complainant_name": "梁志强", "phone": "13800000001", "company_name": "江门市蓬江区示例五金制品有限公司",
         "uscc": "91440703MAKLKB3T82", "district": "蓬江区", "title": "某镇政府工程尾款逾期未付",
         "content": "2025年6月交付围墙改造工程，合同约定验收后30日付款，至今未付48.6万元。"}
REGISTER = {**START, "in_scope": True}
ASSESS = {"urgency": "normal", "appeal_type": "complaint", "primary_category": "拖欠账款", "misconduct": False,
          "kb_answerable": False}
