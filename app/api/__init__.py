"""The JSON API edge under /api/v1: load -> one service call -> dump."""
from flask_smorest import Api
from flask_wtf import CSRFProtect


def register_api(api: Api, csrf: CSRFProtect) -> None:
    from app.api import auth, definitions, designer, instances, messages, notifications, tasks

    for module in (auth, definitions, tasks, instances, messages, notifications, designer):
        csrf.exempt(module.blp)   # bearer tokens, not cookies: no CSRF surface
        api.register_blueprint(module.blp, url_prefix="/api/v1" + module.PREFIX)
    from app.api import supervision   # issue #6: 督办
    csrf.exempt(supervision.blp)
    api.register_blueprint(supervision.blp, url_prefix="/api/v1" + supervision.PREFIX)
    from app.api import applications, instance_list, lists   # issue #12: 我的申请, instances, 已办, case search
    for module in (instance_list, applications, lists):
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp, url_prefix="/api/v1" + module.PREFIX)
    from app.api import admin   # issue #15: administration
    csrf.exempt(admin.blp)
    api.register_blueprint(admin.blp, url_prefix="/api/v1" + admin.PREFIX)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
