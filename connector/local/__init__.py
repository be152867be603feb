"""Local Kafka and Redis for tests, benchmarks and ``make run`` on machines without Docker.

Kafka runs from its Maven Central jars (resolved by deploy/kafka/pom.xml into ``.cache/kafka/lib``)
as one KRaft node; Redis runs from Debian's ``redis-server`` without persistence. Both bind a free
loopback port, are started in their own process group and are stopped cleanly, so no stray JVM
outlives the run that started it. ``python -m connector.local --help`` drives them from a shell.
"""

from connector.local.kafka import LocalKafka
from connector.local.redis_server import LocalRedis
from connector.local.services import ServiceError

__all__ = ["LocalKafka", "LocalRedis", "ServiceError"]
