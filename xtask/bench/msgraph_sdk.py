"""Measures Microsoft's Python Graph SDK (msgraph-sdk) on the work graph-comms does.

Run by `cargo xtask bench` inside a virtual environment it creates. Prints one JSON object.

msgraph-sdk has no type for commsNotifications, so a bot using it parses the envelope with the
json module and each notification's resourceData with the SDK's `Call` model: that is what is
timed here, per notification, over the same bodies graph-comms decodes. The second figure builds
and serializes the spec's example-5 TransferPostRequestBody (the SDK validates nothing).

usage: python msgraph_sdk.py NOTIFICATION_FILE...
"""

import json
import statistics
import sys
import time

from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from kiota_serialization_json.json_serialization_writer_factory import (
    JsonSerializationWriterFactory,
)
from msgraph.generated.communications.calls.item.transfer.transfer_post_request_body import (
    TransferPostRequestBody,
)
from msgraph.generated.models.call import Call
from msgraph.generated.models.identity import Identity
from msgraph.generated.models.identity_set import IdentitySet
from msgraph.generated.models.invitation_participant_info import InvitationParticipantInfo
from msgraph.generated.models.participant_info import ParticipantInfo

PARSE = JsonParseNodeFactory()
WRITE = JsonSerializationWriterFactory()


def decode(body: bytes):
    """Envelope with json, each call resourceData with the SDK's Call model."""
    out = []
    for n in json.loads(body).get("value") or []:
        data = n.get("resourceData")
        if isinstance(data, dict):
            node = PARSE.get_root_parse_node("application/json", json.dumps(data).encode())
            out.append(node.get_object_value(Call))
    return out


def build_transfer() -> bytes:
    """The spec's example 5 (group call, corrected), built and serialized through the SDK's types:
    the same body graph-comms' transfer benchmark builds, validates and serializes."""
    user = Identity()
    user.id = "550fae72-d251-43ec-868c-373732c2704f"
    user.display_name = "Heidi Steen"
    user.additional_data = {"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
    identity = IdentitySet()
    identity.user = user
    target = InvitationParticipantInfo()
    target.identity = identity
    # v1.0's invitationParticipantInfo has no endpointType, languageId or region: additional data.
    target.additional_data = {
        "endpointType": "default",
        "languageId": "languageId-value",
        "region": "region-value",
    }
    transferee_user = Identity()
    transferee_user.id = "751f6800-3180-414d-bd94-333364659951"
    transferee_user.additional_data = {"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
    transferee_identity = IdentitySet()
    transferee_identity.user = transferee_user
    transferee = ParticipantInfo()
    transferee.identity = transferee_identity
    transferee.participant_id = "909c6581-5130-43e9-88f3-fcb3582cde37"
    body = TransferPostRequestBody()
    body.transfer_target = target
    body.transferee = transferee
    writer = WRITE.get_serialization_writer("application/json")
    writer.write_object_value(None, body)
    return writer.get_serialized_content()


def per_op_ns(fn, ops_per_call: int, min_seconds: float = 0.5, runs: int = 5) -> float:
    """Median over `runs` of the time per operation, each run lasting at least min_seconds."""
    fn()  # warm up (imports inside the SDK happen on first use)
    results = []
    for _ in range(runs):
        n = 0
        start = time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        results.append(elapsed / (n * ops_per_call) * 1e9)
    return statistics.median(results)


def main() -> None:
    bodies = []
    for path in sys.argv[1:]:
        raw = open(path, "rb").read()
        try:
            decode(raw)
        except Exception:  # the SDK cannot read it: left out, and counted
            continue
        bodies.append(raw)
    notifications = sum(len(json.loads(b).get("value") or []) for b in bodies)

    def decode_all():
        for b in bodies:
            decode(b)

    import msgraph  # noqa: F401  (for the version)
    from importlib.metadata import version

    print(
        json.dumps(
            {
                "sdk": "msgraph-sdk " + version("msgraph-sdk"),
                "python": sys.version.split()[0],
                "files_given": len(sys.argv) - 1,
                "files_read": len(bodies),
                "notifications": notifications,
                "decode_ns_per_notification": per_op_ns(decode_all, max(notifications, 1)),
                "transfer_build_serialize_ns": per_op_ns(build_transfer, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
