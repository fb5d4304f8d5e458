"""Administration (/admin, role `admin`, issue #15): users, groups and units, the business calendar
and the audit log. Every change is one transaction with an audit event naming who and why
(app/admin/audit_log.py); the pages are in views.py, the services in users.py, orgs.py, calendar.py."""
