"""``canyu subscribe`` against the real compacted topic, as a user runs it."""

from __future__ import annotations

import subprocess
import sys

from tests.integration.conftest import env_for


def test_add_list_and_remove_a_subscription(ns):
    env = env_for(ns)
    canyu = lambda *args: subprocess.run([sys.executable, "-m", "canyu_cli", "subscribe", *args], env=env,  # noqa: E731
                                         capture_output=True, text=True, timeout=120)  # fmt: skip
    added = canyu("add", "--name", "battery team", "--webhook", "https://hooks.example.com/x", "--topic", "battery",
                  "--intent", "bug_report", "--min-observed", "20")  # fmt: skip
    assert added.returncode == 0, added.stderr
    sub_id = added.stdout.split(":")[0]

    listed = canyu("list")
    assert sub_id in listed.stdout and "'battery team'" in listed.stdout and ">= 20" in listed.stdout

    assert canyu("rm", sub_id).returncode == 0
    assert "no subscriptions" in canyu("list").stdout
    missing = canyu("rm", sub_id)
    assert missing.returncode == 1 and "no subscription" in missing.stderr


def test_a_bad_subscription_is_refused_with_the_field_named(ns):
    env = env_for(ns)
    bad = subprocess.run([sys.executable, "-m", "canyu_cli", "subscribe", "add", "--name", "x", "--email",
                          "a@example.com", "--intent", "rant"], env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert bad.returncode == 1 and "intents" in bad.stderr
    two = subprocess.run([sys.executable, "-m", "canyu_cli", "subscribe", "add", "--name", "x", "--email",
                          "a@example.com", "--kafka", "t"], env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert two.returncode == 1 and "exactly one channel" in two.stderr
