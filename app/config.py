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
    # Flask-Limiter: memory:// counts per process; set redis://… to share the limits between nodes
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    # observability (#16): /metrics wants this bearer token when set, else answers loopback only;
    # LOG_FORMAT=json writes one JSON object per log line, with the request id
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()


class ProductionConfig(Config):
    """Production refuses to start without a real SECRET_KEY and DATABASE_URL."""

    ENV_NAME = "production"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SESSION_COOKIE_SECURE = True


class TestConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL")
    WTF_CSRF_ENABLED = False
    DEMO_PASSWORD = "demo12345"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast hashes keep the suite quick


def config_for_env():
    """Pick the config class from WUYI_ENV (development | production)."""
    name = os.environ.get("WUYI_ENV", "development").lower()
    return ProductionConfig if name == "production" else Config
