"""The project's PostgreSQL backend, flushing tables with DELETE in tests.

After every transactional test (`transactional_db`, the browser journeys,
the worker suites) Django empties every table with one TRUNCATE. On
PostgreSQL a TRUNCATE gives each table and index a new file, so emptying
35 nearly empty tables took 0.5-1.9 s of server time per test on the
shared 2-core machine, against 2-40 ms for DELETE (measured in the same
run). The tables end up as empty either way; identity sequences are not
reset by either (TransactionTestCase asks for that only with
`reset_sequences`, and then the TRUNCATE ... RESTART IDENTITY path runs).

The audit table refuses DELETE unless the retention flag is set for the
transaction (audit/migrations/0002): the flush sets it, as the prune does.
Used only by handover.settings_test; production and the worker, beat and
gunicorn processes the fault suites start use handover.postgresql."""

from __future__ import annotations

from handover.postgresql import base

# What the post_migrate signal after every flush would write back at once:
# the content types and permissions of the installed models (no test makes
# or removes any). Kept, the signal finds them all and only reads
# (a flush with the signal: 0.46-0.71 s, then 0.21-0.28 s, same run).
KEPT = frozenset({"django_content_type", "auth_permission"})


class DatabaseOperations(base.DatabaseWrapper.ops_class):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences or allow_cascade:
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        # One transaction (execute_sql_flush): foreign keys are checked at
        # its end, when every table is empty.
        return [
            "SET CONSTRAINTS ALL DEFERRED",
            "SET LOCAL handover.audit_prune = 'on'",
            *(
                f"{style.SQL_KEYWORD('DELETE')} {style.SQL_KEYWORD('FROM')} "
                f"{style.SQL_FIELD(self.quote_name(table))}"
                for table in tables
                if table not in KEPT
            ),
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
