"""Alembic environment: runs migrations on the URL given by polku/migrate.py."""

from __future__ import annotations

from alembic import context

from casework import schema as casework_schema
from engine.db import make_engine
from engine.models import Base

config = context.config
# Two schemas in one database: the engine's tables and casework's, each on its own metadata.
target_metadata = [Base.metadata, casework_schema.metadata]


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no sqlalchemy.url: run the migrations through polku/migrate.py")
    engine = make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        driver = connection.connection.driver_connection
        if sqlite and driver is not None:
            # A batch migration rebuilds a table (copy, drop, rename); with foreign keys enforced the drop fails
            # once other tables' rows point at it. SQLite ignores this pragma inside a transaction, so it is
            # set on the driver connection before Alembic begins one; the check below stands in for it.
            driver.execute("PRAGMA foreign_keys=OFF")
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration left rows pointing at nothing: {broken[:5]}")
        if sqlite and driver is not None:
            driver.execute("PRAGMA foreign_keys=ON")
    engine.dispose()


run_migrations_online()
