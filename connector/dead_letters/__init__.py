"""Dead letters, in one package: what the connector cannot apply, written aside and replayed.

format.py (the letter: the record's bytes as they came, the failure in its headers), fit.py (a
smaller copy for a topic that refuses the letter), sink.py (``run``'s dead-letter topic, where the
lifecycle puts a failed record), replay.py (``resend-connector replay``: the topic through the same
lifecycle again), report.py (what a replay's dry run prints) and parking.py (the records an operator
parked in the console, which no replay runs again). The durable producer that writes
letters is Kafka's (connector/kafka/clients.py).

Only the letter's format is re-exported here: the sink and the replay import the pipeline, which
imports this package, so they are imported from their modules.
"""

from connector.dead_letters.format import DeadLetter, FailureContext, dead_letter_for

__all__ = ["DeadLetter", "FailureContext", "dead_letter_for"]
