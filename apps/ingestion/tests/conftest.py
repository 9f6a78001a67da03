from tests.support.fixtures import kafka_bootstrap, kafka_topic  # noqa: F401
