"""Run after the flow tests of this package (pytest takes its files in name order): together
their walks went through every node of every flow, so a node added to a flow lies on a
walked path and the walk there notices it."""

from __future__ import annotations

import importlib

import pytest

from bibid.library.helpdesk import definitions

from .walk import VISITED

WALKS = (
    "test_flows_1_signin",
    "test_flows_2_selfservice",
    "test_flows_3_desk",
    "test_flows_4_passkey",
)


def test_every_node_of_every_flow_was_walked(request):
    modules = [importlib.import_module(f"{__package__}.{name}") for name in WALKS]
    tests = {(m.__name__, name) for m in modules for name in vars(m) if name.startswith("test_")}
    ran = {
        (item.module.__name__, item.originalname)
        for item in request.session.items
        if item.module in modules
    }
    if ran != tests:
        pytest.skip("only when every flow test runs")
    if request.session.testsfailed:
        pytest.skip("a walk failed")
    flows = {d.id: d for d in definitions.all_definitions().values() if d.kind == "flow"}
    assert set(VISITED) == set(flows)
    for flow_id, flow in flows.items():
        assert VISITED[flow_id] == set(flow.nodes), (flow_id, set(flow.nodes) - VISITED[flow_id])
