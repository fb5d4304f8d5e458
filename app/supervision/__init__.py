"""Supervision (督办): overdue and due-soon lists, KPIs, exports and the supervisor's actions.

The read side is SQL over human_task, case, audit_event and incident (never a deserialized
workflow); the actions go through the tasks, deadlines and processes services.
"""
