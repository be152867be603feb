"""The one seam to Kafka: the only package that imports kafka-python (tests/unit/test_import_rules.py).

seams.py (the ``Protocol``s ``run`` and ``replay`` are typed against), consumer.py (the group
consumer wrapper with its rebalance listener, and replay's dead-letter source), records.py
(``InFlight``, the record the consumer hands out), clients.py (client configuration, topic
creation, the durable dead-letter producer, the backfill's ordered producer), admin.py (what
``check`` reads of the cluster), event_writer.py (the webhooks' durable writer), originals.py
(single records read back by offset, for replay), workarounds.py (kafka-python's version-tied
workarounds, with the versions they were verified on), browse.py (reading topics without a group,
for the operator console).

Only kafka-python's value types and its error root are re-exported here, so that importing this
package stays cheap; the clients live in the modules above. The package imports nothing of the
packages that use it (the pipeline, the dead letters, ...: tests/unit/test_import_rules.py).
"""

from kafka import OffsetAndMetadata, TopicPartition
from kafka.errors import GroupIdNotFoundError, KafkaError

__all__ = ["GroupIdNotFoundError", "KafkaError", "OffsetAndMetadata", "TopicPartition"]
