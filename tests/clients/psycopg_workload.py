"""psycopg 3 (libpq) workloads for the conformance tests.

    python3 psycopg_workload.py conformance DSN   the broad workload
    python3 psycopg_workload.py star DSN          SELECT * with a bound parameter: unnamed
                                                  statement once, then prepare=True twice

The DSN names the database and the application_name; everything runs over the extended protocol
(psycopg 3 sends every query with Parse/Bind/Describe/Execute, and names statements it prepares).
"""
import sys

import psycopg
from psycopg.types.json import Jsonb


def conformance(dsn):
    with psycopg.connect(dsn) as c:
        c.execute("DROP TABLE IF EXISTS py_items")
        c.execute(
            "CREATE TABLE py_items (id int PRIMARY KEY, name text, qty int, meta jsonb)"
        )
        # Plain parameters (unnamed statements; psycopg prepares a query by itself after its
        # fifth execution).
        for i in range(100):
            c.execute(
                "INSERT INTO py_items VALUES (%s, %s, %s, %s)",
                (i, f"n{i}", i * 2, Jsonb({"i": i, "q": "it's"})),
            )
        # Explicitly prepared (named statements).
        for i in range(50):
            c.execute(
                "SELECT * FROM py_items WHERE id = %s", (i,), prepare=True
            ).fetchall()
        for i in range(3):
            c.execute(
                "SELECT name FROM py_items WHERE qty > %s AND name LIKE %s",
                (i, "n%"),
                prepare=False,
            ).fetchall()
        c.commit()
        # executemany.
        with c.cursor() as cur:
            cur.executemany(
                "UPDATE py_items SET qty = qty + %s WHERE id = %s",
                [(1, i) for i in range(100)],
            )
        c.commit()
        # Pipeline mode: every query is sent before the results are read.
        with c.pipeline():
            for i in range(100):
                c.execute("SELECT qty FROM py_items WHERE id = %s", (i,))
            c.execute(
                "INSERT INTO py_items VALUES (%s, %s, %s, NULL)", (1000, "pipe", 1)
            )
        c.commit()
        # COPY FROM STDIN.
        with c.cursor() as cur:
            with cur.copy("COPY py_items (id, name, qty) FROM STDIN") as cp:
                for i in range(2000, 2300):
                    cp.write_row((i, f"copy{i}", i))
        c.commit()
        # Errors: one found by the parser, one at execution.
        try:
            c.execute("SELEC 1")
        except psycopg.errors.SyntaxError:
            c.rollback()
        try:
            c.execute("SELECT 1 / %s", (0,))
        except psycopg.errors.DivisionByZero:
            c.rollback()
        # A server-side cursor (DECLARE, FETCH FORWARD n, CLOSE).
        with c.cursor(name="srv") as cur:
            cur.execute("SELECT id, name FROM py_items ORDER BY id")
            while cur.fetchmany(37):
                pass
        c.commit()
        c.execute(
            "SELECT %s::text, %s::int, %s::float8, %s::bool, %s",
            ("a'b", 1, 1.5, True, None),
        ).fetchall()
        c.commit()
    # A second connection: autocommit, binary results, prepared statements.
    with psycopg.connect(dsn, autocommit=True) as c:
        with c.cursor(binary=True) as cur:
            for i in range(30):
                cur.execute(
                    "SELECT id, name FROM py_items WHERE id = %s", (i,), prepare=True
                )
                cur.fetchall()
    print("psycopg conformance workload done")


def star(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        rows = c.execute(
            "SELECT * FROM patients WHERE id = %s", (1,), prepare=False
        ).fetchall()
        assert len(rows) == 1, rows
        for _ in range(2):
            rows = c.execute(
                "SELECT * FROM patients WHERE id = %s", (2,), prepare=True
            ).fetchall()
            assert len(rows) == 1, rows
    print("psycopg star workload done")


if __name__ == "__main__":
    {"conformance": conformance, "star": star}[sys.argv[1]](sys.argv[2])
