"""The event table's write path (issue 6's throughput target).

- Fingerprints become UUIDs (no `LIKE` index, half the size). Stored ones keep their value;
  new ones are computed from the message's bytes (apps.ingestion.parsing.fingerprint), so a
  message stored before this migration and delivered again after it would be stored twice.
- No separate indexes on the foreign keys that a composite index already starts with.
- No foreign-key constraint from events to conversations; on PostgreSQL a trigger deletes the
  events of deleted conversations instead (see "Referential integrity" in
  apps.ingestion.services).
"""

import django.db.models.deletion
from django.db import migrations, models

CREATE_TRIGGER = """
CREATE FUNCTION ingestion_delete_conversation_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Its own statement, so it sees events committed while the DELETE waited for their batch.
    -- An array, not a join: the transition table has no statistics, and a join could then
    -- scan the whole event table instead of its index on conversation_id.
    DELETE FROM ingestion_event WHERE conversation_id = ANY (ARRAY(SELECT id FROM deleted));
    RETURN NULL;
END
$$;
CREATE TRIGGER ingestion_delete_conversation_events
AFTER DELETE ON ingestion_conversation
REFERENCING OLD TABLE AS deleted
FOR EACH STATEMENT EXECUTE FUNCTION ingestion_delete_conversation_events();
"""

DROP_TRIGGER = """
DROP TRIGGER IF EXISTS ingestion_delete_conversation_events ON ingestion_conversation;
DROP FUNCTION IF EXISTS ingestion_delete_conversation_events();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_TRIGGER)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0001_initial"),
        ("projects", "0002_assistantfiles"),
    ]

    operations = [
        migrations.AlterField(
            model_name="conversation",
            name="assistant",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="conversations",
                to="projects.assistant",
            ),
        ),
        migrations.AlterField(
            model_name="event",
            name="conversation",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="ingestion.conversation",
            ),
        ),
        migrations.AlterField(
            model_name="event",
            name="fingerprint",
            field=models.UUIDField(unique=True),
        ),
        migrations.AlterField(
            model_name="unroutedevent",
            name="fingerprint",
            field=models.UUIDField(unique=True),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
