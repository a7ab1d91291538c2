"""A web worker keeps what it loaded away from the cyclic garbage collector
(bibid.common.serving.settle_heap): full collections no longer walk Django's own objects."""

import gc
import weakref

from bibid.common import serving, shedding


class Node:
    pass


def test_settle_heap_collects_the_garbage_then_freezes_the_rest():
    garbage = Node()
    garbage.self = garbage  # a cycle: only the collector frees it
    gone = weakref.ref(garbage)
    del garbage
    before = gc.get_freeze_count()
    try:
        serving.settle_heap()
        assert gone() is None, "garbage left by loading was frozen instead of freed"
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_the_worker_settles_its_heap_once_the_application_is_loaded(monkeypatch):
    calls = []
    monkeypatch.setattr(shedding.ThreadWorker, "load_wsgi", lambda self: calls.append("load"))
    monkeypatch.setattr(serving, "settle_heap", lambda: calls.append("settle"))
    serving.Worker.load_wsgi(object.__new__(serving.Worker))
    assert calls == ["load", "settle"]
