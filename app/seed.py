"""Demo groups and users: one user for every lane group of the shipped diagrams."""
from __future__ import annotations

from app.auth import services
from app.auth.models import ROLE_ADMIN, ROLE_DESIGNER, ROLE_SUPERVISOR, ROLE_TITLES, GroupKind
from app.extensions import db

# The handling units (承办单位) of the complaint process; the dispatch form and the
# complaint_handler_unit.dmn rule table use the same codes.
UNITS = [
    ("jm_scjgj", "江门市市场监督管理局"), ("jm_rsj", "江门市人力资源和社会保障局"),
    ("jm_zjj", "江门市住房和城乡建设局"), ("jm_fgj", "江门市发展和改革局"),
    ("jm_zsj", "江门市政务服务和数据管理局"),
    ("pj_gov", "蓬江区人民政府"), ("jh_gov", "江海区人民政府"), ("xh_gov", "新会区人民政府"),
    ("ts_gov", "台山市人民政府"), ("kp_gov", "开平市人民政府"), ("hs_gov", "鹤山市人民政府"),
    ("ep_gov", "恩平市人民政府"),
]

# (name, title, kind)
DEMO_GROUPS = [
    *((role, title, GroupKind.ROLE) for role, title in ROLE_TITLES.items()),
    # 企业诉求与投诉举报 (complaint)
    ("intake", "受理员", GroupKind.LANE),
    ("dispatch", "分拨员", GroupKind.LANE),
    ("joint_meeting", "联席会议办公室", GroupKind.LANE),
    ("qa", "审核员", GroupKind.LANE),
    ("callback", "回访员", GroupKind.LANE),
    ("jw_letters", "纪委监委信访室", GroupKind.LANE),
    ("jw_supervision", "纪委监委监督检查室", GroupKind.LANE),
    # 承办单位 (units; `<unit>_head` is the unit's head who approves extensions and signs replies)
    *((code, title, GroupKind.UNIT) for code, title in UNITS),
    *((f"{code}_head", f"{title}负责人", GroupKind.LANE) for code, title in UNITS),
    # 开办运输企业“一件事” (one_thing_transport)
    ("applicant", "申请人", GroupKind.LANE),
    ("onething_window", "一件事综合窗口", GroupKind.LANE),
    ("market_regulation", "市场监管", GroupKind.LANE),
    ("transport", "交通运输", GroupKind.LANE),
    ("public_security_seal", "公安（印章刻制）", GroupKind.LANE),
    ("tax_invoice", "税务（发票）", GroupKind.LANE),
    ("social_insurance", "人社/医保/公积金", GroupKind.LANE),
    ("bank_account_opening", "银行（开户）", GroupKind.LANE),
    # 矛盾纠纷分级调处 (dispute_escalation)
    ("dispute_intake", "矛盾纠纷受理员", GroupKind.LANE),
    ("labour_mediation", "劳动争议调解组织", GroupKind.LANE),
    ("village_mediator", "村（社区）调解员", GroupKind.LANE),
    ("town_center", "镇（街）综治中心", GroupKind.LANE),
    ("county_center", "县（区）矛盾纠纷调处中心", GroupKind.LANE),
    ("city_center", "市矛盾纠纷调处中心", GroupKind.LANE),
    ("mediation_followup", "调解协议跟踪员", GroupKind.LANE),
]

# (username, display name, groups); the README lists these.
DEMO_USERS = [
    ("admin", "系统管理员", [ROLE_ADMIN]),
    ("designer", "流程设计员 周设计", [ROLE_DESIGNER]),
    ("supervisor", "督办员 王督办（市营商办，全部承办单位）", [ROLE_SUPERVISOR, *(code for code, _ in UNITS)]),
    ("supervisor_scj", "督办员 冯督办（市场监管局分管副局长）", [ROLE_SUPERVISOR, "jm_scjgj"]),
    ("intake1", "受理员 李受理", ["intake"]),
    ("dispatch1", "分拨员 陈分拨", ["dispatch"]),
    ("handler1", "经办人 黄经办（市场监管局）", ["jm_scjgj"]),
    ("head1", "负责人 林科长（市场监管局）", ["jm_scjgj_head"]),
    ("handler2", "经办人 谢经办（人社局）", ["jm_rsj"]),
    ("head2", "负责人 郑科长（人社局）", ["jm_rsj_head"]),
    ("handler_pj", "经办人 区经办（蓬江区政府）", ["pj_gov"]),
    ("head_pj", "负责人 区主任（蓬江区政府）", ["pj_gov_head"]),
    ("qa1", "审核员 苏审核", ["qa"]),
    ("joint1", "联席会议办公室 钟协调", ["joint_meeting"]),
    ("callback1", "回访员 梁回访", ["callback"]),
    ("jw_letters1", "纪委信访室 杜信访", ["jw_letters"]),
    ("jw_sup1", "纪委监督检查室 潘监督", ["jw_supervision"]),
    ("applicant1", "申请人 何家豪（鹤山市示例顺达物流有限公司）", ["applicant"]),
    ("window1", "综合窗口 吴窗口", ["onething_window"]),
    ("market1", "市场监管局 冯登记", ["market_regulation"]),
    ("transport1", "交通运输局 邓许可", ["transport"]),
    ("seal1", "公安局 谭印章", ["public_security_seal"]),
    ("tax1", "税务局 甄发票", ["tax_invoice"]),
    ("social1", "人社局 关社保", ["social_insurance"]),
    ("bank1", "银行 司徒开户", ["bank_account_opening"]),
    ("dispute1", "纠纷受理员 容受理", ["dispute_intake"]),
    ("labour1", "劳动争议调解员 麦调解", ["labour_mediation"]),
    ("village1", "村调解员 余调解（冲蒌镇某村）", ["village_mediator"]),
    ("town1", "镇综治中心 伍主任（冲蒌镇）", ["town_center"]),
    ("county1", "台山市调处中心 李科长", ["county_center"]),
    ("city1", "市调处中心 赵处长", ["city_center"]),
    ("followup1", "协议跟踪员 叶跟踪", ["mediation_followup"]),
]

# the profile an applicant's start forms are prefilled from (DOMAIN §6.2 sample)
DEMO_PROFILES = {
    "applicant1": {"real_name": "何家豪", "phone": "13800000003", "enterprise_name": "鹤山市示例顺达物流有限公司",
                   "enterprise_uscc": "91440784MA9QK8KL7L"},
}


def seed_demo_users(password: str) -> list[str]:
    """Create or refresh the demo groups and users. Idempotent. Commits."""
    groups = {name: services.ensure_group(name, title, kind) for name, title, kind in DEMO_GROUPS}
    for code, _ in UNITS:   # the organisation tree (#15): city bureaus, district/county governments
        groups[code].level = groups[code].level or ("city" if code.startswith("jm_") else "district")
    lines = []
    for username, display, group_names in DEMO_USERS:
        user, created = services.create_or_update_user(
            username, password, display, [groups[g] for g in group_names])
        for column, value in DEMO_PROFILES.get(username, {}).items():
            setattr(user, column, value)
        lines.append(f"{'created' if created else 'exists '} {username:<11} {display}  groups={','.join(group_names)}")
    db.session.commit()
    return lines
