"""Where events come from: a Kafka topic (`kafka`), or the JSON-lines files that local bots
write (`spool`).

Each source has `step()` (read one batch, store it with `store.ingest`, acknowledge it; True
if there was anything) plus `open()` / `close()`. `manage.py ingest` runs one in the worker loop
(workers.ingest). Neither source holds a transaction across reading.
"""

from apps.ingestion.sources.kafka import KafkaSource, PartitionLag, kafka_config, kafka_lag
from apps.ingestion.sources.spool import FINAL_LINE_AFTER_SECONDS, FileSpoolSource, SpoolFile

__all__ = [
    "FINAL_LINE_AFTER_SECONDS",
    "FileSpoolSource",
    "KafkaSource",
    "PartitionLag",
    "SpoolFile",
    "kafka_config",
    "kafka_lag",
]
