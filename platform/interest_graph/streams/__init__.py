"""Live behaviour from Kafka: decoding of messages, and a consumer that applies them exactly once."""
