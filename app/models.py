"""Every model, imported once so the metadata is complete (migrations, create_all in tests)."""
from app.audit.models import AuditEvent  # noqa: F401
from app.auth.models import ApiToken, Group, User, user_group  # noqa: F401
from app.cases.models import Case  # noqa: F401
from app.cases.records import Attachment, Comment  # noqa: F401
from app.deadlines.models import Incident, TimerJob  # noqa: F401
from app.processes.models import ProcessDefinition, ProcessInstance  # noqa: F401
from app.tasks.models import HumanTask, HumanTaskCandidate  # noqa: F401
from app.calendar.models import CalendarYear, HolidayOverride  # noqa: F401
from app.notifications.models import EmailMessage, Notification  # noqa: F401
from app.designer.models import DesignerDraft  # noqa: F401
from app.integration.models import (  # noqa: F401
    IntegrationClient, IntegrationNonce, IntegrationTicket, OutboxEvent, Transfer)
from app.supervision.models import SUPERVISION_INDEXES, BundleFact, CaseFact  # noqa: F401  (indexes on human_task, case, audit_event)
from app.portal.models import PortalTicket  # noqa: F401  (#13 public portal)
