"""Platform exchange (#13): signed inbound tickets and 移送单 from the 12345 platform, the SME
platform and the 纪委 case system; an outbox of the events they must hear about, delivered after
commit by the dispatcher. See inbound.py, outbox.py, delivery.py, transfers.py."""
from app.integration.outbox import outbox_backlog

__all__ = ["outbox_backlog"]
