from __future__ import annotations

from tollway_metering.migrations import Migration, Retention, load_migrations


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [migration.version for migration in load_migrations()]

    assert versions == list(range(1, len(versions) + 1))


def test_every_statement_is_idempotent_and_fully_substituted() -> None:
    for migration in load_migrations():
        statements = migration.statements(database="tollway", **Retention().values())
        for statement in statements:
            if statement.startswith("DROP"):
                assert "IF EXISTS" in statement
            elif statement.startswith("INSERT"):
                # Only to fill again a derived table the same migration dropped and created.
                table = statement.split()[2]
                assert f"DROP TABLE IF EXISTS {table}" in statements
            elif " MODIFY SETTING " in statement:
                pass  # giving a setting the same value again changes nothing
            else:
                assert "IF NOT EXISTS" in statement
            assert "$" not in statement


def test_statements_drop_comments_and_split_on_semicolons() -> None:
    migration = Migration(
        1,
        "x",
        "-- a comment; with a semicolon\nCREATE TABLE ${database}.a (x UInt8);\n\nSELECT 1;\n",
    )

    assert migration.statements(database="db") == ["CREATE TABLE db.a (x UInt8)", "SELECT 1"]


def test_usage_table_uses_the_retention_setting() -> None:
    (first, *_) = load_migrations()

    statements = first.statements(database="tollway", retention_days=30)

    assert any("INTERVAL 30 DAY" in statement for statement in statements)


def test_bodies_have_their_own_retention() -> None:
    bodies = next(m for m in load_migrations() if m.name == "request_bodies")

    (statement,) = bodies.statements(database="tollway", **Retention(body_days=7).values())

    assert "INTERVAL 7 DAY DELETE" in statement
