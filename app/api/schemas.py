"""marshmallow schemas of the JSON API, both ways."""
from app.deadlines.sla import current_sla_state
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema


# marshmallow's own messages are English; the API answers people in Chinese (issue #12). A field or
# validator given its own message keeps it.
_FIELD_MESSAGES = {
    fields.Field: {"required": "必填", "null": "不能为空", "validator_failed": "取值无效"},
    fields.String: {"invalid": "应为字符串", "invalid_utf8": "应为 UTF-8 编码的字符串"},
    fields.Number: {"invalid": "应为数字", "too_large": "数值过大"},
    fields.Integer: {"invalid": "应为整数"},
    fields.Float: {"special": "不允许 NaN 或无穷大"},
    fields.Boolean: {"invalid": "应为 true 或 false"},
    fields.DateTime: {"invalid": "应为 ISO 8601 日期时间", "invalid_awareness": "日期时间的时区不符合要求",
                      "format": "无法按日期时间格式输出"},
    fields.Date: {"invalid": "应为日期 YYYY-MM-DD", "format": "无法按日期格式输出"},
    fields.Mapping: {"invalid": "应为 JSON 对象"},
    fields.List: {"invalid": "应为数组"},
    fields.Nested: {"type": "应为 JSON 对象"},
}


def _in_chinese(field: fields.Field) -> None:
    """Replace the library's default messages of a field (and of its validators and inner fields)."""
    library, chinese = {}, {}
    for cls in reversed(type(field).__mro__):
        library.update(getattr(cls, "default_error_messages", {}))
        chinese.update(_FIELD_MESSAGES.get(cls, {}))
    for key, message in chinese.items():
        if field.error_messages.get(key) == library.get(key):
            field.error_messages[key] = message
    for validator in field.validators:
        if getattr(validator, "error", "") in (None, getattr(type(validator), "default_message", None)):
            validator.error = _validator_message(validator)
    for inner in (getattr(field, "inner", None), getattr(field, "key_field", None),
                  getattr(field, "value_field", None)):
        if isinstance(inner, fields.Field):
            _in_chinese(inner)


def _validator_message(validator) -> str:
    if isinstance(validator, validate.OneOf):
        return "取值无效，可选：{choices}"
    if isinstance(validator, validate.Range):
        low = "应不小于 {min}" if validator.min_inclusive else "应大于 {min}"
        high = "应不大于 {max}" if validator.max_inclusive else "应小于 {max}"
        if validator.min is not None and validator.max is not None:
            return "应在 {min} 至 {max} 之间" if validator.min_inclusive and validator.max_inclusive else f"{low}，且{high}"
        return low if validator.min is not None else high
    if isinstance(validator, validate.Length):
        if validator.equal is not None:
            return "长度应为 {equal}"
        if validator.min is not None and validator.max is not None:
            return "长度应在 {min} 至 {max} 之间"
        return "长度应不少于 {min}" if validator.min is not None else "长度应不超过 {max}"
    return "取值无效"


class StrictSchema(Schema):
    """The API's base schema: ordered, and every validation message in Chinese."""

    error_messages = {"unknown": "不是可接受的字段", "type": "应为 JSON 对象"}

    class Meta:
        ordered = True

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        _bounded(field_obj)
        _in_chinese(field_obj)


# an integer the database cannot hold was a 500 (SQLite: "Python int too large", PostgreSQL: out of
# range): every loaded integer, in a query, a body or a list, gets the database's bound (app/security.py)
INT_MAX = 2**31 - 1


def _bounded(field: fields.Field) -> None:
    inner = getattr(field, "inner", None)
    if isinstance(inner, fields.Field):
        _bounded(inner)
    if not isinstance(field, fields.Integer) or field.dump_only:
        return
    if any(isinstance(v, validate.Range) and v.max is not None for v in field.validators):
        return
    lows = [v.min for v in field.validators if isinstance(v, validate.Range) and v.min is not None]
    bound = validate.Range(min=-INT_MAX - 1 if not lows else None, max=INT_MAX)
    bound.error = _validator_message(bound)
    field.validators = [*field.validators, bound]


class TokenRequestSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(required=True, load_only=True)


class TokenSchema(StrictSchema):
    token = fields.String()
    token_type = fields.String(dump_default="Bearer")
    expires_at = fields.DateTime()
    username = fields.String()


class ProcessDefinitionSchema(StrictSchema):
    id = fields.Integer()
    key = fields.String()
    name = fields.String()
    version = fields.Integer()
    deployed_at = fields.DateTime()
    source_file = fields.String()
    start_form = fields.String(allow_none=True)
    can_start = fields.Boolean()


class DataSchema(StrictSchema):
    class Meta:
        unknown = EXCLUDE

    data = fields.Dict(keys=fields.String(), load_default=dict)


class StartSchema(DataSchema):
    message = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "开始消息名（按渠道启动的流程，如 complaint.hotline_12345）；缺省时按 data.channel 选择"})


class CaseSchema(StrictSchema):
    id = fields.Integer()
    number = fields.String()
    process_key = fields.String()
    title = fields.String(allow_none=True)
    status = fields.String()
    channel = fields.String(allow_none=True)
    district = fields.String(allow_none=True)
    unit = fields.String(allow_none=True, metadata={"description": "承办单位（派单后）"})
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class TaskSchema(StrictSchema):
    id = fields.Integer()
    name = fields.String()
    bpmn_id = fields.String()
    process_key = fields.String()
    instance_id = fields.Integer()
    case_id = fields.Integer(allow_none=True)
    lane = fields.String(allow_none=True)
    candidate_groups = fields.List(fields.String())
    assignee_id = fields.Integer(allow_none=True)
    status = fields.String()
    priority = fields.Integer()
    form = fields.String(allow_none=True)
    created_at = fields.DateTime()
    claimed_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    completed_by_id = fields.Integer(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    warn_at = fields.DateTime(allow_none=True)
    due_provisional = fields.Boolean()
    paused = fields.Method("get_paused")
    sla_state = fields.Method("get_sla_state", metadata={
        "description": "green/yellow/orange/red/paused at this moment (orange: a step timer ran out, the case "
                       "deadline has not)"})
    escalation_step = fields.String(allow_none=True)
    follow_up_on = fields.Date(allow_none=True, metadata={"description": "跟进日期（江门本地日期）"})

    def get_paused(self, task):
        return task.paused_at is not None

    def get_sla_state(self, task):
        return current_sla_state(task)


class TaskDetailSchema(TaskSchema):
    form_schema = fields.Dict(allow_none=True)
    ui_schema = fields.Dict(allow_none=True)
    instructions = fields.String(allow_none=True)
    data = fields.Dict()
    draft = fields.Dict(allow_none=True)


class TaskQuerySchema(StrictSchema):
    class Meta:
        unknown = EXCLUDE

    scope = fields.String(load_default="all", validate=validate.OneOf(["mine", "group", "all"]))
    overdue = fields.Boolean(load_default=False)
    process = fields.String(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PaginationSchema(StrictSchema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    pages = fields.Integer()


class TaskPageSchema(StrictSchema):
    items = fields.List(fields.Nested(TaskSchema))
    pagination = fields.Nested(PaginationSchema)


class DelegateSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))


class HistoryEntrySchema(StrictSchema):
    id = fields.Integer(allow_none=True)
    at = fields.DateTime()
    action = fields.String()
    actor = fields.String(allow_none=True)
    task_id = fields.Integer(attribute="human_task_id", allow_none=True)
    bpmn_id = fields.String(allow_none=True)
    label = fields.String(allow_none=True)
    data = fields.Raw(allow_none=True)


class InstanceErrorSchema(StrictSchema):
    message = fields.String()
    element_id = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    at = fields.DateTime()


class InstanceSchema(StrictSchema):
    id = fields.Integer()
    process_key = fields.String()
    process_version = fields.Integer()
    status = fields.String()
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    case = fields.Nested(CaseSchema, allow_none=True)
    error = fields.Nested(InstanceErrorSchema, allow_none=True)
    data = fields.Dict()
    open_tasks = fields.List(fields.Nested(TaskSchema))
    history = fields.List(fields.Nested(HistoryEntrySchema))


class StartResultSchema(StrictSchema):
    instance = fields.Nested(InstanceSchema)
    case = fields.Nested(CaseSchema)
    tasks = fields.List(fields.Nested(TaskSchema))


class CorrelationSchema(StrictSchema):
    instance_id = fields.Integer(validate=validate.Range(min=1))
    case_number = fields.String(validate=validate.Length(min=1, max=40))

    @validates_schema
    def one_key(self, data, **kwargs):
        if not data:
            raise ValidationError("需要 instance_id 或 case_number", field_name="correlation")


class MessageSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    correlation = fields.Nested(CorrelationSchema, required=True)
    payload = fields.Raw(load_default=None)


class ErrorBodySchema(StrictSchema):
    code = fields.String(metadata={"description": "machine-readable, e.g. validation_failed, conflict"})
    message = fields.String(metadata={"description": "for people, in Chinese"})
    field_messages = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), data_key="fields",
                                 metadata={"description": "field path -> messages (422)"})
    element_id = fields.String(metadata={"description": "BPMN element of a script error (500)"})
    line = fields.Integer(metadata={"description": "line in the script of a script error (500)"})
    problems = fields.List(fields.Dict(), metadata={
        "description": "every problem of a refused diagram (422 bpmn_invalid): file, line, element_id, message"})


class ErrorSchema(StrictSchema):
    """Every error answer: {"error": {"code", "message", "fields"?}}."""

    error = fields.Nested(ErrorBodySchema)


class NotificationSchema(StrictSchema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    case_id = fields.Integer(allow_none=True)
    task_id = fields.Integer(attribute="human_task_id", allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class NotificationQuerySchema(StrictSchema):
    class Meta:
        unknown = EXCLUDE

    unread = fields.Boolean(load_default=False)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class NotificationPageSchema(StrictSchema):
    items = fields.List(fields.Nested(NotificationSchema))
    pagination = fields.Nested(PaginationSchema)
    unread_count = fields.Integer()


class MarkReadSchema(StrictSchema):
    ids = fields.List(fields.Integer(), load_default=None, allow_none=True)
    marked = fields.Integer(dump_only=True)
