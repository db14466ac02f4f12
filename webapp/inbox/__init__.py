"""The task inbox (`/inbox`): tabs, filters, claim, assign, dates, comments, as Camunda 7 Tasklist does its job."""

from flask_babel import lazy_gettext as _l

from webapp.home import add_navigation
from webapp.inbox import task_views  # noqa: F401  (its routes join the blueprint)
from webapp.inbox.views import STAFF_ROLES, bp

add_navigation("inbox.index", _l("Inbox"), *STAFF_ROLES)  # a partner account has no inbox (their view: /partner)

__all__ = ["bp"]
