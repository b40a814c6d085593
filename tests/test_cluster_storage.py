"""The app on a real three-master Redis Cluster: call records and survey answers written through
the webhooks and read back, and a cluster that is down when the app starts."""

from __future__ import annotations

import time

import pytest
from phone import Phone
from redis_servers import RedisCluster as ClusterServers

from bench.harness import open_all_hours
from ivr.redisconn import connect
from ivr.surveys import SurveyStore


@pytest.fixture
def cluster_url(redis_cluster) -> str:
    """The emptied session cluster's URL."""
    redis_cluster.flushall()
    return redis_cluster.url


@pytest.fixture
def cluster_app(make_app, menus_dir, cluster_url):
    """The app on the cluster, with support always open and every call surveyed."""
    open_all_hours(menus_dir)
    return make_app(REDIS_URL=cluster_url)


def survey_call(phone: Phone) -> None:
    """Language, support, internet; an agent answers; the caller answers the survey; hang up."""
    phone.call()
    phone.press("1")
    phone.press("2")
    enqueue = phone.press("1").first("Enqueue")
    phone.post(f"/voice/queue/answered?q={enqueue.text}&agent=alice", {"QueueTime": 30})
    after = phone.post(enqueue.get("action"), {"QueueResult": "bridged", "QueueTime": 30})
    phone.post(after.first("Redirect").text)
    for key in ("1", "5", "1", "9"):
        phone.press(key)
    phone.post("/voice/status", {"CallStatus": "completed", "CallDuration": 120})


def test_call_record_path_and_survey_land_in_the_cluster(cluster_app, cluster_url):
    phone = Phone(cluster_app.test_client())
    survey_call(phone)
    client = connect(cluster_url)
    record = cluster_app.extensions["ivr"].calls.get(client, phone.sid)
    assert (record["queue"], record["queue_result"], record["status"]) == ("support", "bridged",
                                                                           "completed")
    assert record["route"] == "queue:support" and record["agent"] == "alice"
    path = cluster_app.extensions["ivr"].calls.path(client, phone.sid)
    assert len(path) == 4 and "language" in path[0] and "support" in path[2], path
    answers = SurveyStore().get(client, phone.sid)
    assert (answers["a:csat"], answers["a:resolved"], answers["a:nps"]) == ("5", "yes", "9")
    assert answers["disposition"] == "completed"
    assert phone.sid in client.zrange("ivr:calls:by_time", 0, -1)
    assert cluster_app.extensions["ivr"].writer.spool.pending() == 0


def test_keys_of_one_call_share_a_slot(cluster_app, cluster_url):
    phone = Phone(cluster_app.test_client())
    survey_call(phone)
    client = connect(cluster_url)
    keys = client.keys(f"*{phone.sid}*", target_nodes=client.ALL_NODES)
    assert {f"ivr:call:{{{phone.sid}}}", f"ivr:call:{{{phone.sid}}}:path",
            f"ivr:survey:{{{phone.sid}}}"} <= set(keys)
    assert len({client.cluster_keyslot(k) for k in keys}) == 1, keys


def test_app_starts_while_the_cluster_is_down_and_catches_up(make_app, menus_dir):
    servers = ClusterServers()  # ports chosen, nothing started yet
    try:
        app = make_app(REDIS_URL=servers.url)
        health = app.test_client().get("/healthz").get_json()
        assert health["redis"] == "unreachable" and health["status"] == "degraded"
        phone = Phone(app.test_client())
        first = phone.call()
        assert first.has("Gather")  # the caller is served; the writes wait in the spool
        rt = app.extensions["ivr"]
        assert rt.writer.spool.pending() >= 1
        servers.start()
        deadline = time.monotonic() + 30
        while rt.writer.spool.pending() and time.monotonic() < deadline:
            rt.writer.replay()
            time.sleep(0.2)
        record = rt.calls.get(connect(servers.url), phone.sid)
        assert record["version"] == rt.menus.current.version and record["started"]
        assert app.test_client().get("/healthz").get_json()["redis"] == "ok"
    finally:
        servers.destroy()
