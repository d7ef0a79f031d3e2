"""The driver's ``iterate``: every match exactly once, in key order, however many batches it takes, on every
adapter. Without an explicit sort it pages by key (after the last key seen), not by position, so a batch
costs the same at the end of a large scan as at its start."""

from __future__ import annotations

from shared.documents import DocumentStore
from shared.documents.driver import Eq, Range

COLLECTION = "flags"  # any collection the store creates; the driver does not care about the shape


async def test_every_match_once_in_key_order_across_batches(store: DocumentStore) -> None:
    ids = [f"k-{n:04d}" for n in range(53)] + ["k", "k-0001x", "k-0001\u00e9"]
    for n, key in enumerate(ids):
        await store.driver.put(COLLECTION, {"_id": key, "_state": "open" if n % 3 else "lifted", "n": n})
    wanted = sorted(k for n, k in enumerate(ids) if n % 3)
    seen = [doc["_id"] async for doc in store.driver.iterate(COLLECTION, [Eq("_state", "open")], batch=7)]
    assert seen == wanted
    everything = [doc["_id"] async for doc in store.driver.iterate(COLLECTION, batch=5)]
    assert everything == sorted(ids)
    # a condition on the key itself still holds beside the paging one
    some = [doc["_id"] async for doc in store.driver.iterate(COLLECTION, [Range("_id", gte="k-0010", lt="k-0020")],
                                                              batch=4)]
    assert some == [f"k-{n:04d}" for n in range(10, 20)]


async def test_integer_keys_and_an_explicit_sort(store: DocumentStore) -> None:
    # Keys of one width, as the engine's are: nx-27017 orders integer _ids as text (MongoDB as numbers).
    keys = range(101, 124)
    for key in keys:
        await store.driver.put(COLLECTION, {"_id": key, "_state": "open", "n": 1000 - key})
    seen = [doc["_id"] async for doc in store.driver.iterate(COLLECTION, [Eq("_state", "open")], batch=4)]
    assert seen == list(keys)
    by_n = [doc["_id"] async for doc in store.driver.iterate(COLLECTION, sort=[("n", 1)], batch=4)]
    assert by_n == list(reversed(keys))


async def test_a_batch_exactly_the_size_of_the_matches(store: DocumentStore) -> None:
    for key in range(10):
        await store.driver.put(COLLECTION, {"_id": f"id{key}", "_state": "open"})
    assert [doc["_id"] async for doc in store.driver.iterate(COLLECTION, batch=10)] == [f"id{k}" for k in range(10)]
    assert [doc["_id"] async for doc in store.driver.iterate(COLLECTION, batch=5)] == [f"id{k}" for k in range(10)]
