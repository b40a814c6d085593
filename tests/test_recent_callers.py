"""The index of recently routed callers: an incoming call reads nothing from Redis, whether the
caller is new or returning, and a caller routed anywhere is still welcomed back, on a single
server and on a cluster."""

from __future__ import annotations

import random
import time

import pytest
from phone import Phone
from test_queue_calls import enter_billing, open_clock
from test_returning_calls import NUMBER, WELCOME_ES

from ivr import recent_callers
from ivr.calls import CallStore
from ivr.privacy import caller_hash
from ivr.recent_callers import SEEDED, LastRoutes, RecentCallers, SlotTable
from ivr.redisconn import connect

clock = pytest.fixture(name="clock")(open_clock)
LONG = 60_000  # a batch window no test waits out: events stay in memory until flushed


def loaded(app):
    """The app's index, loaded now rather than in the background."""
    recent = app.extensions["ivr"].recent
    assert recent.load()
    return recent


def routed_to_billing(app, number: str = NUMBER) -> None:
    """A Spanish caller routed to the billing queue by `app`."""
    phone = Phone(app.test_client(), number=number)
    assert enter_billing(phone, "2").text == "billing"


def in_billing(remembered: dict | None) -> bool:
    """True when the index remembers a Spanish caller routed to billing within the hour."""
    return bool(remembered) and remembered["lang"] == "es-US" \
        and remembered["dest"] == "queue:billing" and time.time() - remembered["at"] < 3600


def test_the_table_never_forgets_a_caller_and_rarely_mistakes_a_stranger():
    rng = random.Random(7)
    table = SlotTable(bits=16)
    routed = [f"{rng.getrandbits(128):032x}" for _ in range(3000)]
    for n, caller in enumerate(routed):
        table.add(caller, 1_000_000 + n * 60)
    assert all(table.maybe_since(c, 1_000_000 + n * 60) for n, c in enumerate(routed))
    last = 1_000_000 + 2999 * 60
    assert not any(table.maybe_since(c, last + 120) for c in routed)  # none since: all forgotten
    strangers = [f"{rng.getrandbits(128):032x}" for _ in range(10_000)]
    mistaken = sum(table.maybe_since(c, 1_000_000) for c in strangers)
    assert mistaken < 100  # about (1 - e**(-2 * 3000 / 65536))**2, under 1 %
    assert table.maybe_since("not hex: hashed first", 0)  # any since before the epoch's first minute
    table.add("not hex: hashed first", 2_000_000)
    assert table.maybe_since("not hex: hashed first", 2_000_000)


def test_a_new_callers_incoming_call_reads_nothing_once_the_index_is_loaded(make_app, redis_client, clock):
    app = make_app(IVR_EVENT_BATCH_MS=LONG)
    rt = app.extensions["ivr"]
    loaded(app)
    phone = Phone(app.test_client(), number="+15550001234")
    before = rt.writer.round_trips()
    assert phone.call().said[0] == "Thank you for calling Acme. For English, press 1."
    assert rt.writer.round_trips() == before  # no read of the caller, start batched
    rt.events.flush()
    assert CallStore().get(redis_client, phone.sid)["lang"] == "en-US"


def test_a_route_is_known_at_once_in_its_own_process(make_app, clock):
    app = make_app()
    recent = loaded(app)
    routed_to_billing(app)
    hashed = caller_hash(NUMBER, app.extensions["ivr"].hash_key)
    assert in_billing(recent.remembered(hashed, time.time() - 3600))
    assert Phone(app.test_client(), number=NUMBER).call().said == [WELCOME_ES]


def test_a_caller_routed_by_another_instance_is_welcomed_once_this_one_catches_up(
        make_app, clock, monkeypatch):
    monkeypatch.setattr(recent_callers, "SYNC_EVERY", 0.0)  # catch up on every incoming call
    first, second = make_app(), make_app()
    loaded(second)
    routed_to_billing(first)
    hashed = caller_hash(NUMBER, first.extensions["ivr"].hash_key)
    assert second.extensions["ivr"].recent.remembered(hashed, time.time() - 3600) == {}  # not yet
    assert Phone(second.test_client(), number=NUMBER).call().said == [WELCOME_ES]
    assert in_billing(second.extensions["ivr"].recent.remembered(hashed, time.time() - 3600))


def test_an_index_not_brought_up_to_date_is_not_trusted(make_app, clock, monkeypatch):
    monkeypatch.setattr(recent_callers, "SYNC_EVERY", 3600.0)  # no catch-up during the test
    monkeypatch.setattr(recent_callers, "TRUST_FOR", 0.05)
    first, second = make_app(), make_app()
    recent = loaded(second)
    routed_to_billing(first)
    hashed = caller_hash(NUMBER, first.extensions["ivr"].hash_key)
    assert recent.remembered(hashed, time.time() - 3600) == {}
    time.sleep(0.1)
    assert recent.remembered(hashed, time.time() - 3600) is None  # too old to say "new caller"
    assert Phone(second.test_client(), number=NUMBER).call().said == [WELCOME_ES]


def test_before_its_index_is_loaded_an_incoming_call_reads_the_caller(make_app, clock):
    first, second = make_app(), make_app()
    routed_to_billing(first)
    assert second.extensions["ivr"].recent.table is None
    assert Phone(second.test_client(), number=NUMBER).call().said == [WELCOME_ES]


def test_callers_remembered_before_the_stream_existed_are_added_once(make_app, any_redis_url, clock):
    app = make_app(REDIS_URL=any_redis_url)
    loaded(app)  # not in the background, which could race the deletion below
    routed_to_billing(app)
    client = connect(any_redis_url)
    client.delete(CallStore.ROUTED, SEEDED)  # as before the upgrade: the memory alone
    fresh = make_app(REDIS_URL=any_redis_url)
    recent = loaded(fresh)
    hashed = caller_hash(NUMBER, app.extensions["ivr"].hash_key)
    assert in_billing(recent.remembered(hashed, time.time() - 3600))  # seeded with its route
    assert recent.remembered(caller_hash("+15550004321", app.extensions["ivr"].hash_key),
                             time.time() - 3600) == {}
    assert client.get(SEEDED) == "done" and client.xlen(CallStore.ROUTED) == 1
    assert loaded(make_app(REDIS_URL=any_redis_url)) and client.xlen(CallStore.ROUTED) == 1
    assert Phone(fresh.test_client(), number=NUMBER).call().said == [WELCOME_ES]


def test_routes_reach_every_index_through_the_stream_on_a_cluster_too(make_app, any_redis_url, clock,
                                                                       monkeypatch):
    monkeypatch.setattr(recent_callers, "SYNC_EVERY", 0.0)
    first, second = make_app(REDIS_URL=any_redis_url), make_app(REDIS_URL=any_redis_url)
    loaded(second)
    numbers = [f"+1555000{n:04d}" for n in range(5)]
    for number in numbers:
        routed_to_billing(first, number)
    assert Phone(second.test_client(), number="+15559990000").call().said[0].startswith("Thank you")
    key = first.extensions["ivr"].hash_key
    since = time.time() - 3600
    assert all(in_billing(second.extensions["ivr"].recent.remembered(caller_hash(n, key), since))
               for n in numbers)


def test_the_stream_is_trimmed_of_entries_older_than_the_window(redis_client, monkeypatch, make_app, clock):
    app = make_app()
    recent = loaded(app)
    old_ms = int(redis_client.time()[0] * 1000) - 30 * 3600 * 1000  # ids are the server's clock
    redis_client.xadd(CallStore.ROUTED, {"h": "ab" * 16, "at": "1"}, id=f"{old_ms}-0")
    routed_to_billing(app)
    monkeypatch.setattr(recent_callers, "TRIM_EVERY", 0.0)
    monkeypatch.setattr(recent_callers, "SYNC_EVERY", 0.0)
    for number in ("+15550007777", "+15550007778"):  # the first catches up, the second trims
        Phone(app.test_client(), number=number).call()
    entries = redis_client.xrange(CallStore.ROUTED)
    assert [fields["h"] for _, fields in entries] == [caller_hash(NUMBER, app.extensions["ivr"].hash_key)]
    assert recent.synced_at > 0


def test_a_failed_load_leaves_calls_reading_redis(tmp_path):
    class Down:
        def get(self, key):
            raise ConnectionError("Redis is down")

    recent = RecentCallers(Down(), CallStore.ROUTED, CallStore.CALLER % "*")
    assert recent.remembered("ab" * 16, 0) is None
    with pytest.raises(ConnectionError):
        recent.load()
    assert recent.table is None and recent.remembered("ab" * 16, 0) is None


def test_a_route_taken_while_the_index_loads_is_kept_for_it(make_app):
    recent = make_app().extensions["ivr"].recent
    recent.routed("cd" * 16, 5_000_000.0, "en-US", "queue:support")  # no table yet: its load
    assert recent.table is None and recent.load()  # may have read past this route
    assert recent.remembered("cd" * 16, 5_000_000.0 - 60) == {
        "lang": "en-US", "dest": "queue:support", "at": 5_000_000.0}
    assert recent.remembered("ef" * 16, 5_000_000.0 - 60) == {}


def test_a_returning_callers_incoming_call_reads_nothing_and_is_welcomed_back(make_app, redis_client,
                                                                            clock, monkeypatch):
    monkeypatch.setattr(recent_callers, "SYNC_EVERY", 0.0)
    first, second = make_app(IVR_EVENT_BATCH_MS=LONG), make_app(IVR_EVENT_BATCH_MS=LONG)
    loaded(second)
    routed_to_billing(first)
    Phone(second.test_client(), number="+15550009999").call()  # catches up with first's route
    monkeypatch.setattr(recent_callers, "SYNC_EVERY", 3600.0)  # and now stays current
    rt = second.extensions["ivr"]
    again = Phone(second.test_client(), number=NUMBER)
    before = rt.writer.round_trips()
    assert again.call().said == [WELCOME_ES]
    assert rt.writer.round_trips() == before  # the route came from the index, the start batched
    rt.events.flush()
    record = CallStore().get(redis_client, again.sid)
    assert record["lang"] == "es-US" and record["started"]
    assert again.press("1").first("Enqueue").text == "billing"


def test_a_route_told_without_its_destination_sends_the_next_call_to_redis(make_app, redis_client,
                                                                           clock, monkeypatch):
    """During a rolling upgrade an older process tells the stream only who was routed and when:
    the route held for that caller is then stale, so the caller is read from Redis."""
    monkeypatch.setattr(recent_callers, "SYNC_EVERY", 0.0)
    app = make_app()
    recent = loaded(app)
    routed_to_billing(app)
    hashed = caller_hash(NUMBER, app.extensions["ivr"].hash_key)
    later = time.time() + 1
    redis_client.hset(CallStore.CALLER % hashed, mapping={"lang": "en-US", "dest": "queue:billing",
                                                            "at": later})
    redis_client.xadd(CallStore.ROUTED, {"h": hashed, "at": later})  # as an older version wrote
    Phone(app.test_client(), number="+15550009999").call()  # this process catches up
    assert recent.remembered(hashed, time.time() - 3600) is None
    assert Phone(app.test_client(), number=NUMBER).call().said[0].startswith("Welcome back")


def test_last_routes_keep_the_newest_route_of_the_latest_callers():
    routes = LastRoutes(limit=3)
    for n, caller in enumerate("abcd"):
        routes.add(caller, 100.0 + n, "en-US", f"queue:{caller}")
    assert routes.get("a") is None and len(routes) == 3  # the oldest dropped
    routes.add("b", 50.0, "es-US", "queue:old")  # older than the route held: changes nothing
    assert routes.get("b") == ("en-US", "queue:b", 101.0)
    routes.add("b", 200.0, "es-US", "queue:billing")  # newer: kept, and now the latest taken
    routes.add("e", 201.0, "en-US", "queue:e")
    assert routes.get("c") is None and routes.get("b") == ("es-US", "queue:billing", 200.0)
    routes.add("d", 300.0, "", "")  # routed, but where is not said: only Redis knows
    assert routes.get("d") is None and len(routes) == 2
