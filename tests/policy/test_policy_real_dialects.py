"""The comment rules the policy relies on, checked against the real servers.

The analyzer expands MySQL executable comments and follows each dialect's comment
nesting; if a server disagreed, SQL could hide from the policy.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from nbwarden.policy import PolicyEngine


@pytest.mark.postgres
def test_postgres_nests_comments_like_the_analyzer(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        value = conn.execute(sa.text("SELECT 1 /* outer /* inner */ + 1 */ + 2")).scalar()
    engine.dispose()
    assert value == 3
    assert (
        PolicyEngine().check_sql("SELECT 1 /* a /* b */ ; DROP TABLE t; */", "postgres").action
        == "allow"
    )


@pytest.mark.mariadb
def test_mariadb_runs_executable_comments_and_does_not_nest(mariadb_url: str) -> None:
    engine = sa.create_engine(mariadb_url)
    with engine.connect() as conn:
        executed = conn.execute(sa.text("SELECT 1 /*!50000 + 1 */")).scalar()
        not_nested = conn.execute(sa.text("SELECT 1 /* a /* b */ + 4")).scalar()
    engine.dispose()
    assert executed == 2
    assert not_nested == 5
    policy = PolicyEngine()
    assert policy.check_sql("SELECT 1 /*!50000 ; DROP TABLE t */", "mysql").action == "block"
    assert policy.check_sql("SELECT 1 /* a /* b */ ; DROP TABLE t", "mysql").action == "block"
