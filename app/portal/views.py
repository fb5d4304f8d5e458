"""The public intake portal (/portal): no staff login. Choose an entry, file a 诉求/投诉/举报, get the case
number and 查询码; track the case with both; add 补充材料; rate the reply.

Abuse: every submission passes a honeypot field, the captcha, a rate limit per IP (all posts) and per
phone (successful filings), counted in Flask-Limiter's storage (app.extensions.limiter); lookups of a
code are limited per IP. Each refusal re-shows the form with the typed text and a Chinese message at
its field."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from limits import parse

from app.cases.uploads import ALLOWED_TEXT, size_text
from app.errors import AppError
from app.extensions import limiter
from app.portal import captcha, services
from app.portal.services import ENTRIES, PortalRefused

bp = Blueprint("portal", __name__, url_prefix="/portal")

HONEYPOT = "website"
_GRANTS = "portal_grants"
_RECEIPT = "portal_receipt"
LIMIT_WORDS = {"second": "秒", "minute": "分钟", "hour": "小时", "day": "天", "month": "个月", "year": "年"}


# --- rate limits ------------------------------------------------------------------------------------

def _item(config_key: str):
    return parse(current_app.config[config_key])


def _hit(config_key: str, who: str) -> bool:
    """Count one request against the limit; False when the limit is already used up."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    return limiter.limiter.hit(_item(config_key), "portal", config_key, who)


def _has_room(config_key: str, who: str) -> bool:
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    return limiter.limiter.test(_item(config_key), "portal", config_key, who)


def _window(config_key: str) -> str:
    item = _item(config_key)
    unit = LIMIT_WORDS.get(item.GRANULARITY.name, item.GRANULARITY.name)
    return f"每 {item.multiples} {unit}" if item.multiples > 1 else f"每{unit}"


def _phone_key(phone: str | None) -> str | None:
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return digits or None


# --- pages ------------------------------------------------------------------------------------------

@bp.after_request
def _no_store(response):
    """Portal pages carry a person's case: no caching by the browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
def index():
    return render_template("portal/index.html", entries=ENTRIES.values())


def _entry(name: str) -> services.Entry:
    entry = ENTRIES.get(name)
    if entry is None:
        abort(404)
    return entry


def _type_options(entry: services.Entry) -> list[tuple[str, str]]:
    titles = {"consult": "咨询", "help": "求助", "complaint": "投诉", "report": "举报", "suggestion": "建议"}
    return [(value, titles[value]) for value in entry.appeal_types]


def _render_form(entry, values=None, errors=None, message=None, status=200):
    schema = _start_schema()
    props = schema.get("properties", {})
    return render_template(
        "portal/form.html", entry=entry, values=values or {}, errors=errors or {}, message=message,
        types=_type_options(entry), districts=props.get("district", {}).get("enum", []),
        categories=props.get("category", {}).get("items", {}).get("enum", []),
        id_types=props.get("id_type", {}).get("enum", []), max_files=current_app.config["PORTAL_MAX_FILES"],
        max_file=size_text(current_app.config["PORTAL_MAX_FILE_BYTES"]), allowed_types=ALLOWED_TEXT,
        honeypot=HONEYPOT), status


def _start_schema() -> dict:
    from app.processes.versions import get_bundle, get_latest_definition
    bundle = get_bundle(get_latest_definition(services.PROCESS_KEY).id)
    return bundle.forms.get(bundle.meta.get("start_form")) or {}


def _typed(form) -> dict:
    """What was typed, to fill the form again (never the captcha answer or the honeypot)."""
    values = {name: form.get(name, "") for name in ("appeal_type", *services.TEXT_FIELDS)}
    values["category"] = form.getlist("category")
    values["anonymous"] = form.get("anonymous") in ("1", "on", "true")
    values["hide_identity"] = form.get("hide_identity") in ("1", "on", "true")
    return values


@bp.get("/<entry_name>")
def form(entry_name: str):
    return _render_form(_entry(entry_name))


@bp.post("/<entry_name>")
def submit(entry_name: str):
    entry = _entry(entry_name)
    form = request.form
    typed = _typed(form)
    if form.get(HONEYPOT):
        return _render_form(entry, typed, message="提交未被接受：请不要填写标注“请勿填写”的栏目。", status=400)
    if not _hit("PORTAL_SUBMIT_LIMIT_IP", get_remote_address()):
        return _render_form(entry, typed, status=429, message=(
            f"提交过于频繁：同一网络{_window('PORTAL_SUBMIT_LIMIT_IP')}最多提交 "
            f"{_item('PORTAL_SUBMIT_LIMIT_IP').amount} 次，请稍后再试。您填写的内容已保留。"))
    problem = captcha.check_answer(form.get("captcha"))
    if problem:
        return _render_form(entry, typed, errors={"captcha": [problem]}, status=400,
                            message="验证码未通过，请重新输入。" + ("您选择的附件需要重新选择。" if _has_files() else ""))
    data = services.read_submission(entry, form)
    errors = services.validate_submission(entry, data)
    checked, file_problems = services.check_files(request.files.getlist("attachments"))
    if file_problems:
        errors["attachments"] = file_problems
    if errors:
        return _render_form(entry, typed, errors=errors, status=422, message=(
            f"有 {len(errors)} 处需要修改，请查看标红的栏目。" + ("附件需要重新选择。" if _has_files() else "")))
    phone = _phone_key(data.get("phone"))
    if phone and not _has_room("PORTAL_SUBMIT_LIMIT_PHONE", phone):
        limit = _item("PORTAL_SUBMIT_LIMIT_PHONE")
        return _render_form(entry, typed, status=429, errors={"phone": [
            f"该号码{_window('PORTAL_SUBMIT_LIMIT_PHONE')}最多提交 {limit.amount} 件诉求，请稍后再试；"
            "已提交的诉求可用查询码补充材料"]}, message="该联系电话提交过于频繁。")
    try:
        receipt = services.submit(entry, data, checked)
    except PortalRefused as exc:
        return _render_form(entry, typed, errors=exc.fields or {}, message=exc.message, status=422)
    except AppError as exc:   # a designer's script failed: nothing was started
        current_app.logger.warning("portal start refused: %s", exc.message)
        return _render_form(entry, typed, status=503, message="系统暂时无法受理，请稍后再试。您填写的内容已保留。")
    if phone:
        _hit("PORTAL_SUBMIT_LIMIT_PHONE", phone)
    _grant(receipt.case_number, services.find_ticket(receipt.case_number, receipt.code).id)
    session[_RECEIPT] = {"number": receipt.case_number, "code": receipt.code}
    return redirect(url_for("portal.done"), code=303)


def _has_files() -> bool:
    return any(f.filename for f in request.files.getlist("attachments"))


@bp.get("/done")
def done():
    receipt = session.pop(_RECEIPT, None)
    if not receipt:
        return redirect(url_for("portal.track"), code=303)
    return render_template("portal/done.html", number=receipt["number"], code=services.shown_code(receipt["code"]))


@bp.get("/captcha.png")
def captcha_image():
    response = current_app.response_class(captcha.new_challenge(), mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"
    return response


# --- tracking ---------------------------------------------------------------------------------------

def _grant(number: str, ticket_id: int) -> None:
    grants = dict(session.get(_GRANTS) or {})
    grants.pop(number, None)
    grants[number] = ticket_id
    session[_GRANTS] = dict(list(grants.items())[-5:])   # the last five cases looked up on this device


def _granted(number: str):
    ticket_id = (session.get(_GRANTS) or {}).get(number)
    return services.get_ticket(ticket_id) if isinstance(ticket_id, int) else None


@bp.get("/track")
def track():
    return render_template("portal/track.html", values={}, errors={})


@bp.post("/track")
def lookup():
    number, code = request.form.get("case_number", "").strip(), request.form.get("code", "")
    values = {"case_number": number}
    if not _hit("PORTAL_TRACK_LIMIT_IP", get_remote_address()):
        return render_template("portal/track.html", values=values, errors={}, message=(
            f"查询过于频繁：同一网络{_window('PORTAL_TRACK_LIMIT_IP')}最多查询 "
            f"{_item('PORTAL_TRACK_LIMIT_IP').amount} 次，请稍后再试。")), 429
    errors = {}
    if not number:
        errors["case_number"] = ["请填写案件编号"]
    if not services.normalize_code(code):
        errors["code"] = ["请填写查询码"]
    if errors:
        return render_template("portal/track.html", values=values, errors=errors), 422
    ticket = services.find_ticket(number, code)
    if ticket is None:
        return render_template("portal/track.html", values=values, errors={}, message=services.NOT_FOUND), 422
    number = number.upper()
    _grant(number, ticket.id)
    return redirect(url_for("portal.case", number=number), code=303)


def _case_page(ticket, *, errors=None, message=None, typed=None, status=200, notice=None):
    view = services.public_view(ticket)
    return render_template("portal/case.html", view=view, errors=errors or {}, message=message, typed=typed or {},
                           notice=notice, levels=services.RATING_LEVELS, max_files=current_app.config["PORTAL_MAX_FILES"],
                           max_file=size_text(current_app.config["PORTAL_MAX_FILE_BYTES"]),
                           allowed_types=ALLOWED_TEXT, supplement_max=services.SUPPLEMENT_MAX,
                           comment_max=services.RATING_COMMENT_MAX), status


def _ticket_or_lookup(number: str):
    """The ticket looked up on this device; None for any other number (unknown or not looked up)."""
    return _granted(number)


@bp.get("/case/<number>")
def case(number: str):
    ticket = _ticket_or_lookup(number)
    if ticket is None:
        return redirect(url_for("portal.track"), code=303)
    return _case_page(ticket, notice=session.pop("portal_notice", None))


def _action_allowed() -> bool:
    return _hit("PORTAL_ACTION_LIMIT_IP", get_remote_address())


@bp.post("/case/<number>/supplement")
def supplement(number: str):
    ticket = _ticket_or_lookup(number)
    if ticket is None:
        return redirect(url_for("portal.track"), code=303)
    text = request.form.get("text", "")
    typed = {"text": text}
    if request.form.get(HONEYPOT):
        return _case_page(ticket, typed=typed, status=400, message="提交未被接受：请不要填写标注“请勿填写”的栏目。")
    if not _action_allowed():
        return _case_page(ticket, typed=typed, status=429, message="操作过于频繁，请稍后再试。您填写的内容已保留。")
    checked, problems = services.check_files(request.files.getlist("attachments"))
    if problems:
        return _case_page(ticket, typed=typed, errors={"attachments": problems}, status=422,
                          message="附件未通过检查，请重新选择。")
    try:
        services.add_supplement(ticket, text, checked)
    except PortalRefused as exc:
        return _case_page(ticket, typed=typed, errors=exc.fields or {}, message=exc.message, status=422)
    session["portal_notice"] = "补充材料已提交，已通知正在办理的工作人员。"
    return redirect(url_for("portal.case", number=number, _anchor="supplement"), code=303)


@bp.post("/case/<number>/rating")
def rating(number: str):
    ticket = _ticket_or_lookup(number)
    if ticket is None:
        return redirect(url_for("portal.track"), code=303)
    typed = {"rating": request.form.get("rating", ""), "comment": request.form.get("comment", "")}
    if not _action_allowed():
        return _case_page(ticket, typed=typed, status=429, message="操作过于频繁，请稍后再试。您填写的内容已保留。")
    try:
        level = services.rate(ticket, typed["rating"], typed["comment"])
    except PortalRefused as exc:
        return _case_page(ticket, typed=typed, errors=exc.fields or {}, message=exc.message, status=422)
    except AppError as exc:
        return _case_page(ticket, typed=typed, message=exc.message if exc.status == 409 else
                          "系统暂时无法记录评价，请稍后再试。", status=exc.status if exc.status == 409 else 503)
    session["portal_notice"] = ("感谢您的评价。" if level >= 3 else
                                "感谢您的评价，您的意见已转回承办单位重新办理，并由督办员跟进。")
    return redirect(url_for("portal.case", number=number, _anchor="rating"), code=303)


@bp.errorhandler(413)
def _too_large(exc):
    """The whole request over MAX_CONTENT_LENGTH (the parts cannot be read back): said in the portal's words."""
    return render_template("portal/error.html", message=(
        f"提交的内容过大：附件合计不能超过 {size_text(current_app.config['MAX_CONTENT_LENGTH'])}，"
        f"每个附件不超过 {size_text(current_app.config['PORTAL_MAX_FILE_BYTES'])}。请返回上一页减少附件后重新提交。")), 413
