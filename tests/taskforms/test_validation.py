"""Tests for app.taskforms.validation: Chinese per-field errors and schema checks."""
import copy
import time

import pytest

from app.taskforms.schema import format_path
from app.taskforms.validation import FormValidator, check_schema

# ----------------------------------------------------------------------------- schemas
COMPLAINT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "title": "企业诉求工单",
    "required": ["channel", "appeal_type", "content", "district"],
    "properties": {
        "ticket_no": {"title": "工单编号", "type": "string", "pattern": "^JM-\\d{4}-\\d{4}-\\d{6}$"},
        "channel": {"title": "来源渠道", "enum": ["hotline_12345", "sme_platform", "lianzheng_web",
                                                  "window_box", "ndrc_bizenv", "cannot_do_window",
                                                  "opinion_monitor", "jw_transfer"]},
        "appeal_type": {"title": "诉求类型", "enum": ["consult", "help", "complaint", "report",
                                                      "suggestion", "praise"]},
        "category": {"title": "诉求类别", "type": "array", "items": {"type": "string"},
                     "minItems": 1, "maxItems": 4, "uniqueItems": True},
        "urgency": {"title": "紧急程度", "enum": ["urgent", "normal"]},
        "anonymous": {"title": "是否匿名", "type": "boolean"},
        "hide_identity": {"title": "信息保密", "type": "boolean"},
        "complainant_name": {"title": "诉求人", "type": "string", "minLength": 2, "maxLength": 30},
        "id_type": {"title": "证件类型", "enum": ["居民身份证", "港澳居民居住证", "外国人永久居留身份证", "护照"]},
        "id_number": {"title": "证件号码", "type": "string"},
        "phone": {"title": "联系电话", "type": "string", "format": "cn-phone"},
        "company_name": {"title": "企业名称", "type": "string", "minLength": 1},
        "uscc": {"title": "统一社会信用代码", "type": "string", "format": "uscc"},
        "company_scale": {"title": "企业规模", "enum": ["大", "中", "小", "微"]},
        "district": {"title": "所属区县", "type": "string"},
        "district_code": {"title": "区划代码", "type": "string", "pattern": "^4407\\d{2}$"},
        "town": {"title": "所属镇街", "type": "string"},
        "title": {"title": "诉求标题", "type": "string", "maxLength": 50},
        "content": {"title": "诉求内容", "type": "string", "minLength": 1},
        "respondent_org": {"title": "被反映单位", "type": "string"},
        "respondent_person": {"title": "被反映人员", "type": "string"},
        "amount": {"title": "涉及金额(元)", "type": "number", "minimum": 0},
        "received_at": {"title": "受理时间", "type": "string", "format": "date-time"},
        "limit_value": {"title": "办理时限", "type": "integer", "exclusiveMinimum": 0},
        "limit_unit": {"title": "时限单位", "enum": ["WD", "CD", "H"]},
        "due_at": {"title": "到期时间", "type": "string",
                   "anyOf": [{"format": "date"}, {"format": "date-time"}]},
    },
    "if": {"properties": {"id_type": {"const": "居民身份证"}}, "required": ["id_type"]},
    "then": {"required": ["id_number"], "properties": {"id_number": {"format": "cn-id-card"}}},
    "else": {"properties": {"id_number": {"maxLength": 30}}},
}

TRANSPORT_SCHEMA = {
    "type": "object",
    "title": "开办运输企业一件事",
    "required": ["company_name", "vehicles", "commitment_signed"],
    "additionalProperties": False,
    "properties": {
        "company_name": {"title": "企业名称", "type": "string"},
        "uscc": {"title": "统一社会信用代码", "type": "string", "format": "uscc"},
        "district": {"title": "所属区县", "enum": ["蓬江区", "江海区", "新会区", "台山市", "开平市", "鹤山市", "恩平市"]},
        "freight_scope": {"title": "申请经营范围", "type": "array", "minItems": 1, "uniqueItems": True,
                          "items": {"enum": ["普通货运", "货物专用运输", "大型物件运输"]}},
        "vehicles": {
            "title": "车辆", "type": "array", "minItems": 1,
            "items": {
                "type": "object",
                "required": ["plate_no", "vehicle_type"],
                "properties": {
                    "plate_no": {"title": "号牌号码", "type": "string", "pattern": "^粤J·[A-Z0-9]{5}$"},
                    "vehicle_type": {"title": "车辆类型", "type": "string"},
                    "gross_mass_kg": {"title": "总质量(kg)", "type": "integer", "minimum": 1, "maximum": 100000},
                    "vin": {"type": "string", "pattern": "^[A-HJ-NPR-Z0-9]{17}$"},
                },
            },
        },
        "drivers": {"title": "驾驶员", "type": "array",
                    "items": {"$ref": "#/$defs/driver"}},
        "commitment_signed": {"title": "告知承诺书", "const": True},
        "bundle_options": {"title": "同步办理", "type": "object",
                           "properties": {k: {"type": "boolean"} for k in
                                          ("seal", "invoice", "social_security", "housing_fund", "bank_account")},
                           "additionalProperties": False},
    },
    "$defs": {
        "driver": {
            "type": "object",
            "required": ["name", "id_number"],
            "properties": {
                "name": {"title": "姓名", "type": "string"},
                "id_number": {"title": "身份证号码", "type": "string", "format": "cn-id-card"},
                "age": {"title": "年龄", "type": "integer", "minimum": 18, "maximum": 60},
            },
        }
    },
}

DISPUTE_SCHEMA = {
    "type": "object",
    "required": ["case_no", "source", "dispute_type", "applicants"],
    "properties": {
        "case_no": {"title": "纠纷编号", "type": "string"},
        "source": {"title": "来源", "enum": ["12345转办", "综治中心窗口", "网格排查", "信访", "涉企诉求转入"]},
        "dispute_type": {"title": "纠纷类型", "type": "string"},
        "applicants": {"title": "申请方", "type": "array", "minItems": 1, "items": {"$ref": "#/$defs/party"}},
        "respondents": {"title": "被申请方", "type": "array", "items": {"$ref": "#/$defs/party"}},
        "amount": {"title": "涉及金额", "type": "number", "minimum": 0},
        "risk_level": {"title": "风险等级", "enum": ["红", "黄", "蓝"]},
        "complexity": {"title": "复杂度", "enum": ["简单", "复杂", "疑难"]},
        "level": {"title": "当前层级", "enum": ["village", "town", "county", "city"]},
        "district": {"title": "所属区县", "type": "string"},
        "town": {"title": "所属镇街", "type": "string"},
    },
    "$defs": {
        "party": {
            "type": "object",
            "required": ["type", "name"],
            "properties": {
                "type": {"title": "类型", "enum": ["个人", "企业"]},
                "name": {"title": "名称", "type": "string"},
                "id_no": {"title": "身份证号码", "type": "string", "format": "cn-id-card"},
                "uscc": {"title": "统一社会信用代码", "type": "string", "format": "uscc"},
                "phone": {"title": "联系电话", "type": "string", "format": "cn-phone"},
            },
        }
    },
}

# DOMAIN.md §6.1 / §6.2 / §6.3 sample records
COMPLAINT_SAMPLES = [
    {"ticket_no": "JM-2025-0929-000318", "channel": "sme_platform", "appeal_type": "complaint",
     "category": ["拖欠账款"], "urgency": "normal",
     "complainant_name": "梁志强", "id_type": "居民身份证", "id_number": "440703197211142916",
     "phone": "13800000001", "company_name": "江门市蓬江区示例五金制品有限公司",
     "uscc": "91440703MAKLKB3T82", "company_scale": "小", "district": "蓬江区", "district_code": "440703",
     "town": "棠下镇", "title": "某镇政府工程尾款逾期未付",
     "content": "2025年6月交付围墙改造工程，合同约定验收后30日付款，至今未付48.6万元。",
     "respondent_org": "某镇人民政府", "amount": 486000.00,
     "received_at": "2025-09-29T10:12:00+08:00", "limit_value": 168, "limit_unit": "H",
     "due_at": "2025-10-06T10:12:00+08:00"},
    {"ticket_no": "JM-2025-0926-000122", "channel": "hotline_12345", "appeal_type": "consult",
     "category": ["惠企政策兑现"], "urgency": "normal", "complainant_name": "陈颖", "id_number": "44070419880306182X",
     "phone": "0750-3271234", "company_name": "江门市江海区示例电子科技有限公司",
     "uscc": "91440704MAMM04DN9H", "district": "江海区", "district_code": "440704",
     "content": "咨询2025年技改补贴申报截止时间及所需材料。",
     "received_at": "2025-09-26T15:40:00+08:00", "limit_value": 2, "limit_unit": "WD", "due_at": "2025-09-29"},
    {"ticket_no": "JM-2025-1013-000057", "channel": "lianzheng_web", "appeal_type": "report",
     "category": ["作风效能(吃拿卡要/推诿)"], "anonymous": False, "hide_identity": True,
     "complainant_name": "黄伟明", "id_number": "440705197407256475", "phone": "13900000002",
     "company_name": "江门市新会区示例陈皮食品有限公司", "uscc": "91440705MAQ6QQN17D",
     "district": "新会区", "district_code": "440705",
     "content": "反映某执法人员在检查中暗示指定检测机构。", "respondent_person": "某执法人员",
     "received_at": "2025-10-13T09:05:00+08:00", "limit_value": 15, "limit_unit": "WD"},
]
TRANSPORT_SAMPLE = {
    "company_name": "鹤山市示例顺达物流有限公司", "uscc": "91440784MA9QK8KL7L", "district": "鹤山市",
    "freight_scope": ["普通货运"],
    "vehicles": [{"plate_no": "粤J·D5821", "vehicle_type": "重型厢式货车", "gross_mass_kg": 18000}],
    "drivers": [{"name": "何家豪", "id_number": "440784198405193570", "age": 41}],
    "commitment_signed": True, "bundle_options": {"seal": True, "invoice": True},
}
DISPUTE_SAMPLE = {
    "case_no": "JM-TS-2025-0412", "source": "综治中心窗口", "dispute_type": "拖欠账款",
    "applicants": [{"type": "企业", "name": "台山市示例建材有限公司", "uscc": "91440781MAHY40XE5Q"}],
    "respondents": [{"type": "企业", "name": "某建筑工程公司"}],
    "amount": 215000, "risk_level": "黄", "complexity": "复杂", "level": "town",
    "district": "台山市", "town": "冲蒌镇",
}


@pytest.fixture(scope="module")
def complaint():
    return FormValidator(COMPLAINT_SCHEMA)


@pytest.fixture(scope="module")
def transport():
    return FormValidator(TRANSPORT_SCHEMA)


@pytest.fixture(scope="module")
def dispute():
    return FormValidator(DISPUTE_SCHEMA)


def one_error(validator, data):
    errs = validator.errors(data)
    assert len(errs) == 1, errs
    (path, msgs), = errs.items()
    assert len(msgs) == 1, errs
    return path, msgs[0]


def with_(base, **changes):
    data = copy.deepcopy(base)
    for k, v in changes.items():
        if v is ...:
            del data[k]
        else:
            data[k] = v
    return data


GOOD = COMPLAINT_SAMPLES[0]


# ------------------------------------------------------------------- valid samples
def test_sample_schemas_are_usable():
    for schema in (COMPLAINT_SCHEMA, TRANSPORT_SCHEMA, DISPUTE_SCHEMA):
        assert check_schema(schema) == []


@pytest.mark.parametrize("sample", COMPLAINT_SAMPLES, ids=lambda s: s["ticket_no"])
def test_complaint_samples_valid(complaint, sample):
    assert complaint.errors(sample) == {}
    assert complaint.is_valid(sample)


def test_transport_and_dispute_samples_valid(transport, dispute):
    assert transport.errors(TRANSPORT_SAMPLE) == {}
    assert dispute.errors(DISPUTE_SAMPLE) == {}


# --------------------------------------------------------------------- each keyword
def test_required_lands_on_missing_field(complaint):
    errs = complaint.errors(with_(GOOD, content=..., district=...))
    assert errs == {"content": ["诉求内容：必填"], "district": ["所属区县：必填"]}
    assert "" not in errs


def test_required_in_nested_object_uses_field_path(transport):
    data = copy.deepcopy(TRANSPORT_SAMPLE)
    del data["vehicles"][0]["vehicle_type"]
    assert transport.errors(data) == {"vehicles[0].vehicle_type": ["车辆类型：必填"]}


def test_type(complaint):
    assert one_error(complaint, with_(GOOD, amount="486000")) == ("amount", "涉及金额(元)：应为数字")
    assert one_error(complaint, with_(GOOD, limit_value=1.5)) == ("limit_value", "办理时限：应为整数")
    assert one_error(complaint, with_(GOOD, anonymous="否")) == ("anonymous", "是否匿名：应为是/否（布尔值）")


def test_enum_lists_allowed_values(complaint):
    path, msg = one_error(complaint, with_(GOOD, urgency="very"))
    assert path == "urgency"
    assert msg == "紧急程度：取值无效，可选值：urgent、normal"


def test_const(transport):
    path, msg = one_error(transport, with_(TRANSPORT_SAMPLE, commitment_signed=False))
    assert (path, msg) == ("commitment_signed", "告知承诺书：必须勾选确认")
    v = FormValidator({"type": "object", "properties": {"kind": {"title": "种类", "const": "A"}}})
    assert v.errors({"kind": "B"}) == {"kind": ["种类：取值应为 A"]}


def test_min_and_max_length(complaint):
    assert one_error(complaint, with_(GOOD, complainant_name="梁")) == (
        "complainant_name", "诉求人：不能少于 2 字（当前 1 字）")
    assert one_error(complaint, with_(GOOD, title="长" * 51)) == (
        "title", "诉求标题：不能超过 50 字（当前 51 字）")
    assert one_error(complaint, with_(GOOD, content="")) == ("content", "诉求内容：不能为空")


def test_pattern(complaint):
    path, msg = one_error(complaint, with_(GOOD, district_code="440100"))
    assert path == "district_code"
    assert msg.startswith("区划代码：格式不正确")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("uscc", "91440703MAKLKB3T83", "统一社会信用代码校验位不正确"),
        ("uscc", "91440703MAKLKB3I82", "统一社会信用代码含有不允许的字符 (I、O、S、V、Z)"),
        ("uscc", "91440703MAKLKB3T8", "统一社会信用代码应为18位（当前17位）"),
        ("phone", "12800000000", "联系电话：手机号码应以13–19开头"),
        ("phone", "0750-12", "联系电话：固定电话号码（区号后）应为7–8位数字，如 0750-3271234"),
        ("received_at", "2025-09-29 10:12", "受理时间：格式不正确（应为日期时间，如 2025-09-29T10:12:00+08:00）"),
    ],
)
def test_format_messages(complaint, field, value, message):
    assert complaint.errors(with_(GOOD, **{field: value})) == {field: [message]}


def test_date_format_message():
    v = FormValidator({"type": "object", "properties": {"d": {"title": "受理日期", "type": "string", "format": "date"}}})
    assert v.errors({"d": "2025-02-30"}) == {"d": ["受理日期：格式不正确（应为日期 YYYY-MM-DD）"]}
    assert v.errors({"d": "2025-02-28"}) == {}


def test_id_card_format_in_nested_ref_items(transport):
    data = copy.deepcopy(TRANSPORT_SAMPLE)
    data["drivers"].append({"name": "甲", "id_number": "44070319900230123X"})
    errs = transport.errors(data)
    assert list(errs) == ["drivers[1].id_number"]
    assert errs["drivers[1].id_number"][0].startswith("身份证号码中的出生日期无效")


def test_minimum_maximum_exclusive(complaint, transport):
    assert one_error(complaint, with_(GOOD, amount=-0.01)) == ("amount", "涉及金额(元)：不能小于0")
    assert one_error(complaint, with_(GOOD, limit_value=0)) == ("limit_value", "办理时限：应大于0")
    data = copy.deepcopy(TRANSPORT_SAMPLE)
    data["drivers"][0]["age"] = 61
    assert transport.errors(data) == {"drivers[0].age": ["年龄：不能大于60"]}
    v = FormValidator({"type": "object", "properties": {"p": {"title": "比例", "exclusiveMaximum": 100}}})
    assert v.errors({"p": 100}) == {"p": ["比例：应小于100"]}


def test_min_max_unique_items(complaint):
    assert one_error(complaint, with_(GOOD, category=[])) == ("category", "诉求类别：至少需要1项（当前0项）")
    assert one_error(complaint, with_(GOOD, category=list("ABCDE"))) == (
        "category", "诉求类别：最多允许4项（当前5项）")
    assert one_error(complaint, with_(GOOD, category=["拖欠账款", "拖欠账款"])) == (
        "category", "诉求类别：不能包含重复项")


def test_additional_properties(transport):
    path, msg = one_error(transport, with_(TRANSPORT_SAMPLE, hacker=1, zz=2))
    assert path == ""
    assert msg == "表单：含有不允许的字段（hacker、zz）"
    data = copy.deepcopy(TRANSPORT_SAMPLE)
    data["bundle_options"]["pizza"] = True
    assert transport.errors(data) == {"bundle_options": ["同步办理：含有不允许的字段（pizza）"]}


def test_if_then_required_lands_on_then_field(complaint):
    data = with_(GOOD, id_number=...)
    assert data["id_type"] == "居民身份证"
    assert complaint.errors(data) == {"id_number": ["证件号码：必填"]}
    # condition not met -> not required
    assert complaint.errors(with_(GOOD, id_type="护照", id_number=...)) == {}


def test_if_then_format_and_else_branch(complaint):
    assert complaint.errors(with_(GOOD, id_number="440703197211142917")) == {
        "id_number": ["证件号码：身份证号码校验位不正确"]}
    # passports are not checked against GB 11643, but the else branch applies
    assert complaint.errors(with_(GOOD, id_type="护照", id_number="E12345678")) == {}
    assert complaint.errors(with_(GOOD, id_type="护照", id_number="E" * 31)) == {
        "id_number": ["证件号码：不能超过 30 字（当前 31 字）"]}


def test_nested_array_item_error_path(transport):
    data = copy.deepcopy(TRANSPORT_SAMPLE)
    data["vehicles"].append({"plate_no": "京A·12345", "vehicle_type": "轻型货车", "gross_mass_kg": 0})
    errs = transport.errors(data)
    assert list(errs) == ["vehicles[1].plate_no", "vehicles[1].gross_mass_kg"]
    assert errs["vehicles[1].plate_no"][0].startswith("号牌号码：格式不正确")
    assert errs["vehicles[1].gross_mass_kg"] == ["总质量(kg)：不能小于1"]


def test_untitled_field_uses_key_and_list_item_label(transport, dispute):
    data = copy.deepcopy(TRANSPORT_SAMPLE)
    data["vehicles"][0]["vin"] = "LIOQ"
    errs = transport.errors(data)
    assert list(errs) == ["vehicles[0].vin"] and errs["vehicles[0].vin"][0].startswith("vin：格式不正确")
    errs = dispute.errors(with_(DISPUTE_SAMPLE, applicants=["台山市示例建材有限公司"]))
    assert errs == {"applicants[0]": ["申请方第1项：应为对象"]}


def test_one_of_and_any_of():
    v = FormValidator({
        "type": "object",
        "properties": {
            "contact": {"title": "联系方式", "oneOf": [{"type": "string", "format": "cn-mobile"},
                                                   {"type": "string", "format": "cn-phone"}]},
            "ref": {"title": "关联编号", "anyOf": [{"type": "integer"}, {"type": "string", "minLength": 5}]},
            "scale": {"title": "企业规模", "oneOf": [{"const": "small", "title": "小"}, {"const": "micro", "title": "微"}]},
        },
    })
    errs = v.errors({"contact": "abc", "ref": "ab", "scale": "big"})
    assert errs == {
        "contact": ["联系方式：填写内容不符合要求（不符合任何一种允许的情形）"],
        "ref": ["关联编号：填写内容不符合要求（不符合任何一种允许的情形）"],
        "scale": ["企业规模：取值无效，可选值：小、微"],
    }
    # a mobile number matches both branches -> oneOf fails for a different reason
    assert v.errors({"contact": "13800000001"}) == {"contact": ["联系方式：填写内容同时符合多种情形，无法确定应按哪一种处理"]}
    assert v.errors({"contact": "0750-3271234", "ref": 7, "scale": "micro"}) == {}


def test_dependent_required():
    v = FormValidator({"type": "object", "properties": {
        "extension_days": {"title": "延长天数", "type": "integer"},
        "extension_reason": {"title": "延期理由", "type": "string"}},
        "dependentRequired": {"extension_days": ["extension_reason"]}})
    assert v.errors({"extension_days": 5}) == {"extension_reason": ["延期理由：必填（已填写延长天数时）"]}
    assert v.errors({}) == {}


def test_false_schema_and_unknown_keyword_fallback():
    v = FormValidator({"type": "object", "properties": {
        "secret": False,
        "pair": {"title": "坐标", "type": "array", "prefixItems": [{"type": "number"}], "items": False}}})
    errs = v.errors({"secret": 1, "pair": [1, 2]})
    assert errs["secret"] == ["secret：不允许填写此项"]
    (msg,) = errs["pair"]
    assert msg.startswith("坐标：不符合要求（") and "Expected at most 1 item" in msg


def test_a_form_may_word_a_keyword_s_message_itself():
    """errorMessage (as ajv-errors has it): one message per keyword, or one for every error of the field."""
    schema = {"type": "object", "properties": {
        "scope": {"title": "经营范围", "type": "array", "items": {"enum": ["普通", "危险"]}, "minItems": 1,
                  "not": {"contains": {"const": "危险"}}, "errorMessage": {"not": "危险货物另行申请"}},
        "note": {"title": "说明", "type": "string", "maxLength": 2, "errorMessage": "说明太长了"}}}
    v = FormValidator(schema)
    assert v.errors({"scope": ["普通", "危险"]}) == {"scope": ["经营范围：危险货物另行申请"]}
    assert v.errors({"scope": []}) == {"scope": ["经营范围：至少需要1项（当前0项）"]}   # other keywords keep theirs
    assert v.errors({"scope": ["普通"], "note": "太长的说明"}) == {"note": ["说明：说明太长了"]}
    assert check_schema({"type": "object", "properties": {"scope": schema["properties"]["scope"]}}) == []


def test_whole_form_type_error(complaint):
    assert complaint.errors(["not", "an", "object"]) == {"": ["表单：应为对象"]}


def test_several_errors_same_field_and_determinism(complaint):
    bad = with_(GOOD, complainant_name=5, urgency="x", content=..., id_number=..., amount=-1, zzz=None)
    first = complaint.errors(bad)
    assert first == FormValidator(COMPLAINT_SCHEMA).errors(copy.deepcopy(bad))
    assert list(first.items()) == list(complaint.errors(bad).items())
    assert set(first) == {"complainant_name", "urgency", "content", "id_number", "amount"}
    assert all(isinstance(m, str) and m for msgs in first.values() for m in msgs)


def test_duplicate_required_is_reported_once():
    v = FormValidator({"type": "object", "required": ["a"], "properties": {"a": {"title": "甲"}},
                       "allOf": [{"required": ["a"]}]})
    assert v.errors({}) == {"a": ["甲：必填"]}


def test_format_path():
    assert format_path([]) == ""
    assert format_path(["vehicles", 0, "plate_no"]) == "vehicles[0].plate_no"
    assert format_path(["a", 1, 2, "b"]) == "a[1][2].b"


def test_performance_valid_ten_field_form(complaint):
    v = FormValidator({"type": "object", "required": ["channel", "content"],
                       "properties": {k: COMPLAINT_SCHEMA["properties"][k] for k in (
                           "channel", "appeal_type", "urgency", "complainant_name", "phone", "company_name",
                           "uscc", "district", "content", "received_at")}})
    data = {k: GOOD[k] for k in ("channel", "appeal_type", "urgency", "complainant_name", "phone",
                                 "company_name", "uscc", "district", "content", "received_at")}
    assert len(data) == 10 and v.errors(data) == {}
    n = 500
    start = time.perf_counter()
    for _ in range(n):
        v.errors(data)
    per_call = (time.perf_counter() - start) / n
    assert per_call < 0.001, f"{per_call * 1e6:.0f} µs per call"


# ----------------------------------------------------------------------- check_schema
def test_check_schema_ok():
    assert check_schema({"type": "object", "properties": {"a": {"type": "string"}}}) == []


def test_check_schema_unknown_type():
    problems = check_schema({"type": "object", "properties": {"a": {"type": "objekt"}}})
    assert len(problems) == 1
    assert "未知的类型 objekt" in problems[0] and "#/properties/a/type" in problems[0]


def test_check_schema_top_level_not_object():
    problems = check_schema({"type": "array", "items": {"type": "string"}})
    assert problems and "object" in problems[0] and "#/type" in problems[0]
    assert check_schema({"properties": {}}) != []
    assert check_schema(["type", "object"]) != []


def test_check_schema_other_problems():
    bad_regex = check_schema({"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}})
    assert len(bad_regex) == 1 and "#/properties/a/pattern" in bad_regex[0]
    bad_ref = check_schema({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}})
    assert len(bad_ref) == 1 and "#/properties/a/$ref" in bad_ref[0]
    draft7 = check_schema({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"})
    assert len(draft7) == 1 and "2020-12" in draft7[0]
    bad_keyword_value = check_schema({"type": "object", "required": "name"})
    assert len(bad_keyword_value) == 1 and "#/required" in bad_keyword_value[0]
