"""Django's PostgreSQL backend, for the test suite, with a cheaper flush between tests.

A test that commits (`transaction=True`, `live_server`, the tests whose worker processes share
the test database) is cleaned up by flushing every table. Django flushes with one `TRUNCATE` of
all of them, which PostgreSQL carries out by giving each table a new file: about 0.7 s for
Studio's tables, after each such test. The few rows a test leaves are deleted in far less: the
foreign keys Django creates are deferrable, so the deletes run in any order inside the flush's
transaction and are checked together at its end. A flush asked to reset the sequences, or to
cascade, is Django's own.
"""

from django.db.backends.postgresql import base


class DatabaseOperations(base.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences or allow_cascade:
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        delete = f"{style.SQL_KEYWORD('DELETE')} {style.SQL_KEYWORD('FROM')}"
        return [
            f"{style.SQL_KEYWORD('SET CONSTRAINTS ALL DEFERRED')};",
            *(f"{delete} {style.SQL_FIELD(self.quote_name(table))};" for table in tables),
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
