"""Alembic environment: runs migrations on the URL given by polku/migrate.py."""

from __future__ import annotations

from alembic import context

import casework.access_log  # noqa: F401  (each casework module registers its tables on Base)
import casework.case_manager  # noqa: F401
import casework.client  # noqa: F401
import casework.client_case  # noqa: F401
import casework.consent  # noqa: F401
import casework.letter  # noqa: F401
import casework.network  # noqa: F401
import casework.notification  # noqa: F401
import casework.plan  # noqa: F401
import casework.service_referral  # noqa: F401
import casework.users  # noqa: F401
from engine.db import make_engine
from engine.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
