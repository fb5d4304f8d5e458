"""The exchange's HTTP edge under /api/v1/integration: signed platform requests (no login, no CSRF:
the HMAC signature is the authentication) and the published ticket schema. Errors are the API's
JSON shape ({"error": {"code", "message", "fields"}})."""
from __future__ import annotations

import json

from flask import Blueprint, jsonify, request

from app.integration import inbound, replies
from app.integration.errors import InvalidJson
from app.integration.schema import ticket_schema
from app.integration.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

bp = Blueprint("integration", __name__, url_prefix="/api/v1/integration")


def _verified(platform: str):
    return inbound.verify_request(platform, request.headers.get(TIMESTAMP_HEADER),
                                  request.headers.get(SIGNATURE_HEADER), request.get_data(cache=True))


@bp.get("/schema/ticket.json")
def schema():
    return jsonify(ticket_schema())


@bp.post("/<platform>/tickets")
def tickets(platform: str):
    client = _verified(platform)
    ticket = inbound.parse_body(request.get_data(cache=True))
    received = inbound.receive_ticket(client, ticket)
    return jsonify(received.body), received.status


@bp.post("/<platform>/transfers/<transfer_no>/receipt")
def transfer_receipt(platform: str, transfer_no: str):
    client = _verified(platform)
    return jsonify(replies.receive_receipt(client, transfer_no))


@bp.post("/<platform>/transfers/<transfer_no>/feedback")
def transfer_feedback(platform: str, transfer_no: str):
    client = _verified(platform)
    try:
        body = json.loads(request.get_data(cache=True).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidJson() from None
    return jsonify(replies.receive_feedback(client, transfer_no, body))
