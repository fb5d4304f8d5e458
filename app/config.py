"""Configuration from the environment; the only module that reads os.environ."""
import os


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


class Config:
    """Defaults for development: SQLite in the instance folder, a dev secret."""

    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")  # None -> instance/wuyi.sqlite
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLALCHEMY_RECORD_QUERIES = False
    BPMN_DIR = os.environ.get("BPMN_DIR")    # None -> <project>/bpmn
    FORMS_DIR = os.environ.get("FORMS_DIR")  # None -> <project>/forms
    DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo12345")
    SCRIPT_TIME_LIMIT = float(os.environ.get("SCRIPT_TIME_LIMIT", "1.0"))
    API_TOKEN_TTL_HOURS = int(os.environ.get("API_TOKEN_TTL_HOURS", "12"))
    PASSWORD_HASH_METHOD = "scrypt"
    SQLITE_BUSY_TIMEOUT = float(os.environ.get("SQLITE_BUSY_TIMEOUT", "15"))
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    # caseworker web (#5): uploads are checked by size and by content (filetype), see app/cases/uploads.py
    MAX_ATTACHMENT_BYTES = int(os.environ.get("MAX_ATTACHMENT_BYTES", str(10 * 1024 * 1024)))
    INBOX_PER_PAGE = int(os.environ.get("INBOX_PER_PAGE", "20"))
    # deadlines (DESIGN §5)
    CALENDAR_OFFICE_HOURS = os.environ.get("CALENDAR_OFFICE_HOURS", "09:00-12:00,13:00-17:00")
    DISPATCH_INTERVAL_SECONDS = float(os.environ.get("DISPATCH_INTERVAL_SECONDS", "2"))
    JOB_MAX_ATTEMPTS = int(os.environ.get("JOB_MAX_ATTEMPTS", "5"))
    JOB_LOCK_SECONDS = int(os.environ.get("JOB_LOCK_SECONDS", "120"))
    JOB_BATCH_SIZE = int(os.environ.get("JOB_BATCH_SIZE", "50"))
    # seconds to wait after failed attempt 1, 2, 3, ... (the last repeats)
    JOB_BACKOFF_SECONDS = tuple(float(s) for s in os.environ.get("JOB_BACKOFF_SECONDS", "5,30,120,600,1800").split(","))
    # platform exchange (#13): how long a callback POST may take
    INTEGRATION_TIMEOUT_SECONDS = float(os.environ.get("INTEGRATION_TIMEOUT_SECONDS", "10"))
    # jobs run at a time by one dispatcher process (PostgreSQL; SQLite runs them one by one)
    DISPATCH_THREADS = int(os.environ.get("DISPATCH_THREADS", "8"))
    # e-mail outbox (sent after commit by the scheduler)
    MAIL_ENABLED = _flag("MAIL_ENABLED")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = os.environ.get("MAIL_PORT")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_USE_TLS = _flag("MAIL_USE_TLS")
    MAIL_USE_SSL = _flag("MAIL_USE_SSL")
    MAIL_FROM = os.environ.get("MAIL_FROM", "五邑流程 <noreply@localhost>")
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", "10"))
    MAIL_MAX_ATTEMPTS = int(os.environ.get("MAIL_MAX_ATTEMPTS", "5"))
    MAIL_SEND_INTERVAL_SECONDS = float(os.environ.get("MAIL_SEND_INTERVAL_SECONDS", "10"))
    # flask-smorest / OpenAPI
    API_TITLE = "Wuyi BPM 五邑流程 API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    WTF_CSRF_ENABLED = True
    # the token lives as long as the login session: a caseworker who spends more than an hour on a
    # long form must not lose it to an expired token (Flask-WTF's default is 3600 s)
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # service tasks (app/connectors): the addresses the http connector may call (comma-separated URL
    # prefixes; none by default), its timeout, and the retries with backoff before an incident
    CONNECTOR_HTTP_ALLOW = os.environ.get("CONNECTOR_HTTP_ALLOW", "")
    CONNECTOR_HTTP_TIMEOUT = float(os.environ.get("CONNECTOR_HTTP_TIMEOUT", "10"))
    CONNECTOR_RETRIES = int(os.environ.get("CONNECTOR_RETRIES", "2"))
    CONNECTOR_BACKOFF_SECONDS = float(os.environ.get("CONNECTOR_BACKOFF_SECONDS", "0.5"))
    CONNECTOR_MAX_BACKOFF_SECONDS = float(os.environ.get("CONNECTOR_MAX_BACKOFF_SECONDS", "5"))
    CONNECTORS = os.environ.get("CONNECTORS", "")   # a deployment's own: "name=module:function,..."
    # Flask-Limiter: memory:// counts per process; set redis://… to share the limits between nodes
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    # public intake portal (#13, app/portal): limits in Flask-Limiter's notation, counted in its storage
    PORTAL_SUBMIT_LIMIT_IP = os.environ.get("PORTAL_SUBMIT_LIMIT_IP", "10 per hour")
    PORTAL_SUBMIT_LIMIT_PHONE = os.environ.get("PORTAL_SUBMIT_LIMIT_PHONE", "3 per day")
    PORTAL_TRACK_LIMIT_IP = os.environ.get("PORTAL_TRACK_LIMIT_IP", "20 per hour")   # lookups of a code
    PORTAL_ACTION_LIMIT_IP = os.environ.get("PORTAL_ACTION_LIMIT_IP", "30 per hour")  # 补充材料 and ratings
    PORTAL_MAX_FILES = 5
    PORTAL_MAX_FILE_BYTES = int(os.environ.get("PORTAL_MAX_FILE_BYTES", str(3 * 1024 * 1024)))   # 5 of them stay under MAX_CONTENT_LENGTH
    PORTAL_CAPTCHA_TTL_SECONDS = 600
    # a fixed captcha text, for browser tests only; never honoured in production (app/portal/captcha.py)
    PORTAL_CAPTCHA_FIXED_TEXT = os.environ.get("PORTAL_CAPTCHA_FIXED_TEXT") or None
    # login protection (#15, README "登录保护"): failed logins throttled per account and per IP
    # (only refused attempts count), and an account locked after consecutive failures
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "10 per 15 minutes")
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "50 per 15 minutes")
    LOGIN_LOCKOUT_THRESHOLD = int(os.environ.get("LOGIN_LOCKOUT_THRESHOLD", "5"))
    LOGIN_LOCKOUT_MINUTES = float(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15"))
    # the remember-me cookie of "在此设备上保持登录": never read by scripts, not sent by other sites' requests
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    # security headers (app/security.py): HTTPS only in production
    FORCE_HTTPS = False
    HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", str(365 * 24 * 3600)))
    # reverse proxies in front of the app whose X-Forwarded-* headers are trusted (0: none)
    PROXY_FIX_HOPS = int(os.environ.get("PROXY_FIX_HOPS", "0"))
    # JSON request bodies nested deeper than this are refused with a 400 before anything parses them
    MAX_JSON_DEPTH = int(os.environ.get("MAX_JSON_DEPTH", "64"))
    # single sign-on (#15): OpenID Connect against the province's unified identity service (统一身份认证);
    # off while OIDC_ISSUER is empty. Users are matched by OIDC_MATCH_CLAIM against user.<OIDC_MATCH_FIELD>
    # (username | email); an unknown one is created without groups when OIDC_CREATE_USERS, else refused.
    OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").rstrip("/")
    OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
    OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
    OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "openid profile email")
    OIDC_MATCH_CLAIM = os.environ.get("OIDC_MATCH_CLAIM", "preferred_username")
    OIDC_MATCH_FIELD = os.environ.get("OIDC_MATCH_FIELD", "username")
    OIDC_CREATE_USERS = _flag("OIDC_CREATE_USERS")
    OIDC_PROVIDER_TITLE = os.environ.get("OIDC_PROVIDER_TITLE", "统一身份认证")
    # observability (#16): /metrics wants this bearer token when set, else answers loopback only;
    # LOG_FORMAT=json writes one JSON object per log line, with the request id
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()


class ProductionConfig(Config):
    """Production refuses to start without a real SECRET_KEY and DATABASE_URL."""

    ENV_NAME = "production"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SESSION_COOKIE_SECURE = True
    PORTAL_CAPTCHA_FIXED_TEXT = None
    REMEMBER_COOKIE_SECURE = True
    FORCE_HTTPS = _flag("FORCE_HTTPS", True)   # off only behind a proxy that already redirects


class TestConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL")
    WTF_CSRF_ENABLED = False
    DEMO_PASSWORD = "demo12345"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast hashes keep the suite quick
    # the suite logs in very often from one address: the tests of the throttling set these low
    LOGIN_LIMIT_PER_ACCOUNT = "10000 per minute"
    LOGIN_LIMIT_PER_IP = "10000 per minute"


def config_for_env():
    """Pick the config class from WUYI_ENV (development | production)."""
    name = os.environ.get("WUYI_ENV", "development").lower()
    return ProductionConfig if name == "production" else Config
