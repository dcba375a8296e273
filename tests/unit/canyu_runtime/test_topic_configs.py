"""The configs canyu's topics are created with: replication settings, compaction, dead-letter retention."""

from canyu import topics
from canyu.settings import Settings
from canyu_runtime.kafka_clients import topic_configs


def test_every_topic_gets_the_min_insync_replicas_setting_and_only_its_own_extras():
    settings = Settings(topic_min_insync_replicas=2, dead_letter_retention_days=7)
    assert topic_configs(settings, topics.POSTS_RAW) == {"min.insync.replicas": "2"}
    assert topic_configs(settings, topics.SUBSCRIPTIONS)["cleanup.policy"] == "compact"
    assert topic_configs(settings, topics.DEAD_LETTERS)["retention.ms"] == str(7 * 86_400_000)


def test_the_local_stack_defaults_to_one_copy():
    settings = Settings()
    assert settings.kafka.replication_factor == 1 and settings.kafka.min_insync_replicas == 1
