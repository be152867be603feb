"""The unit tests' shared fakes, one module per outside system or seam, each small and recording
what it saw: Kafka (kafka.py: the consumer wrapper as the run loop sees it, kafka-python's consumer
beneath the real wrapper for the wrapper's own tests, a dead-letter producer; producer.py for the
backfill's producer), Resend (resend.py: the client's calls against an in-memory team), the
pipeline's parts (pipeline.py). Redis is fakeredis (tests/unit/conftest.py)."""
