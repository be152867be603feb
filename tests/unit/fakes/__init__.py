"""The unit tests' shared fakes, one module per outside system or seam, each small and recording
what it saw: Kafka (kafka.py: a consumer behind the real wrapper, a dead-letter producer, and
producer.py for the backfill's producer), Resend (resend.py: the client's calls against an
in-memory team), the pipeline's parts (pipeline.py). Redis is fakeredis (tests/unit/conftest.py)."""
