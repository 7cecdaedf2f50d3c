"""The scanner's pieces on code written for the purpose: what counts as an AWS call, and
a client the scan cannot follow is a problem, not silence."""

from __future__ import annotations

import ast
import textwrap

from tests.infra import iam_calls, iam_reach
from tests.infra.iam_reach import Def


def scanned(source: str, cls: str | None = "Adapter") -> list[tuple[str, str, tuple[str, ...]]]:
    node = ast.parse(textwrap.dedent(source)).body[0]
    item = Def("example", cls, getattr(node, "name", "f"), node)
    return [(s.kind, s.name, s.index_names) for s in iam_calls.sites(item)]


def test_calls_through_the_client_the_call_helper_and_paginators_are_found() -> None:
    found = scanned("""
        def listing(self, company):
            kwargs = {"TableName": self.table_name, "KeyConditionExpression": "x"}
            if company:
                kwargs["IndexName"] = "inbox"
            self._call("query", **kwargs)
            self.client.delete_item(TableName=self.table_name, Key={})
            self.client.get_paginator("scan")
            self._transact([{"Put": {"TableName": self.table_name, "Item": {}}},
                            {"ConditionCheck": {"TableName": self.table_name, "Key": {}}}])
            self._call("GET", "/not/aws")
        """)
    assert ("method", "query", ("inbox",)) in found
    assert ("method", "delete_item", ()) in found
    assert ("method", "scan", ("inbox",)) in found
    assert ("method", "put_item", ()) in found
    assert ("method", "condition_check_item", ()) in found
    # an HTTP helper's "GET" is a candidate too: iam_policy drops it when the class has
    # no AWS client (ProcoreClient) and refuses it as an unknown operation otherwise
    assert ("method", "GET", ()) in found


def test_secret_reads_and_clients_made_on_the_spot_are_sites() -> None:
    found = scanned("""
        def wire():
            token = read_secret(get_settings(), "webhook_token")
            ses = boto3.client("sesv2")
            return Mailer(token, ses)
        """, cls=None)
    assert ("secret", "webhook_token", ()) in found
    assert ("client", "sesv2", ()) in found


def test_a_client_not_handed_straight_to_a_constructor_is_not_bound() -> None:
    tree = ast.parse(textwrap.dedent("""
        def wire():
            ses = boto3.client("sesv2")
            return Mailer(get_settings().notify_from_email, ses)

        def wired():
            return Mailer(get_settings().notify_from_email, aws.client("sesv2"))
        """))
    loose, straight = (Def("chalicelib.wiring", None, n.name, n) for n in tree.body)
    assert iam_calls.bindings({loose}, {"notify_from_email"}) == []
    (binding,) = iam_calls.bindings({straight}, {"notify_from_email"})
    assert (binding.cls, binding.service, binding.settings) == ("Mailer", "sesv2",
                                                                ("notify_from_email",))


def test_reach_follows_lazy_imports_and_callbacks_but_not_type_annotations() -> None:
    reached = iam_reach.reach(iam_reach.entry_points("app.intake"))
    labels = {d.label for d in reached}
    assert "app._intake_record" in labels  # a callback, named as record_handler
    assert "chalicelib.wiring.get_intake" in labels  # a lazy import in the record handler
    assert "chalicelib.wiring.get_relay_commands_queue" not in labels
    # the blueprint module is imported (its decorators run), none of its routes
    assert "chalicelib.setup_routes.<module>" in labels
    assert not [x for x in labels if x.startswith("chalicelib.setup_routes.")
                and not x.endswith("<module>")]
    path = iam_reach.path(reached, next(d for d in reached
                                        if d.label == "chalicelib.wiring.get_intake"))
    assert path.startswith("app.intake -> app._intake_record -> ")
