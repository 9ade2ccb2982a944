"""The lane that keeps language-model answers from holding every worker."""

from __future__ import annotations

import threading
import time

import pytest

from app.lanes import Lane


def test_places_are_given_in_arrival_order_up_to_the_limit():
    lane = Lane(2)
    first, second, third = lane.join(), lane.join(), lane.join()
    assert first.admitted(0) and second.admitted(0)
    assert not third.admitted(0.01) and third.place() == 1
    assert (lane.running, lane.waiting) == (2, 1)
    second.leave()
    assert third.admitted(0) and third.place() == 0
    for ticket in (first, third):
        ticket.leave()
    assert (lane.running, lane.waiting) == (0, 0)


def test_a_later_arrival_cannot_jump_the_line():
    lane = Lane(1)
    holder, early, late = lane.join(), lane.join(), lane.join()
    assert holder.admitted(0)
    assert (early.place(), late.place()) == (1, 2)
    holder.leave()
    assert not late.admitted(0.01)  # early is first in line
    assert early.admitted(0)
    early.leave()
    assert late.admitted(0)
    late.leave()


def test_leaving_while_waiting_frees_the_line_and_is_idempotent():
    lane = Lane(1)
    holder, waiting = lane.join(), lane.join()
    assert holder.admitted(0)
    waiting.leave()
    waiting.leave()
    holder.leave()
    holder.leave()
    assert (lane.running, lane.waiting) == (0, 0)


def test_a_waiter_wakes_when_a_place_frees_up():
    lane = Lane(1)
    holder = lane.join()
    assert holder.admitted(0)
    waiter = lane.join()
    admitted: list[bool] = []
    thread = threading.Thread(target=lambda: admitted.append(waiter.admitted(5)))
    thread.start()
    time.sleep(0.05)
    holder.leave()
    thread.join(5)
    assert admitted == [True]
    waiter.leave()


def test_a_lane_needs_a_place():
    with pytest.raises(ValueError):
        Lane(0)
