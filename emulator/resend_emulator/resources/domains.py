"""The team's sending domains: ``/domains``, ``/domains/{id}``, ``/domains/{id}/verify``.

Per the OpenAPI description (no recording holds a domains call): a list item has ``id``, ``name``,
``status``, ``created_at``, ``region``, ``open_tracking``, ``click_tracking`` and ``capabilities``
(``{sending, receiving}``); ``GET /domains/{id}`` adds ``object: domain`` and the DNS ``records``.
A created domain is ``not_started``; a PATCH changes its open and click tracking. The emulator has
no DNS, so ``POST /domains/{id}/verify``
verifies it at once (Resend checks the records in the background). ``POST /_emulator/domains``
``{"name": ..., "status": "verified"}`` adds one without a call (the server's ``domains=`` argument
and ``--domain`` seed the sending domain that way).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from resend_emulator.api import Answer, ApiError, Json, Query, Routes, found, invalid
from resend_emulator.records import Domain
from resend_emulator.views import newest_first, page
from resend_emulator.world import World

__all__ = ["add_domain", "routes"]

routes = Routes()

_NAME = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_REGIONS = ("us-east-1", "eu-west-1", "sa-east-1", "ap-northeast-1")
_STATUSES = ("pending", "verified", "failed", "not_started", "partially_verified", "partially_failed")


def _item(d: Domain) -> Json:
    return {"id": d.id, "name": d.name, "status": d.status, "created_at": d.created_at, "region": d.region,
            "open_tracking": d.open_tracking, "click_tracking": d.click_tracking,
            "capabilities": {"sending": "enabled", "receiving": "disabled"}}  # fmt: skip


def _records(d: Domain) -> list[Json]:
    state = "verified" if d.status == "verified" else "not_started"
    return [
        {"record": "SPF", "name": "send", "type": "MX", "ttl": "Auto", "status": state, "priority": 10,
         "value": f"feedback-smtp.{d.region}.amazonses.com"},
        {"record": "SPF", "name": "send", "type": "TXT", "ttl": "Auto", "status": state,
         "value": '"v=spf1 include:amazonses.com ~all"'},
        {"record": "DKIM", "name": "resend._domainkey", "type": "TXT", "ttl": "Auto", "status": state,
         "value": "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC"},
    ]  # fmt: skip


def add_domain(world: World, name: str, status: str = "not_started", region: str = "us-east-1") -> Domain:
    name = name.strip().lower()
    if not _NAME.match(name):
        raise invalid("The `name` field must be a valid domain name.")
    if any(d.name == name for d in world.domains.values()):
        raise invalid(f"The domain {name} has already been registered.")
    domain = Domain(str(uuid.uuid4()), name, status, region)
    world.domains[domain.id] = domain
    return domain


@routes.add("GET", "/domains")
def list_domains(world: World, *, query: Query, body: Json) -> Answer:
    return 200, page([_item(d) for d in newest_first(world.domains.values())], query)


def _tracking(body: Json, domain: Domain) -> None:
    for name in ("open_tracking", "click_tracking"):
        if name in body:
            if not isinstance(body[name], bool):
                raise invalid(f"`{name}` must be a boolean")
            setattr(domain, name, body[name])


@routes.add("POST", "/domains")
def create_domain(world: World, *, query: Query, body: Json) -> Answer:
    name, region = body.get("name"), body.get("region", "us-east-1")
    if not isinstance(name, str):
        raise invalid("Missing `name` field.")
    if region not in _REGIONS:
        raise invalid(f"`region` must be one of {', '.join(_REGIONS)}")
    domain = add_domain(world, name, region=region)
    _tracking(body, domain)
    return 201, {**_item(domain), "records": _records(domain)}


@routes.add("PATCH", "/domains/{id}")
def update_domain(world: World, domain_id: str, *, query: Query, body: Json) -> Answer:
    _tracking(body, found(world.domains, domain_id, "Domain"))
    return 200, {"object": "domain", "id": domain_id}


@routes.add("GET", "/domains/{id}")
def get_domain(world: World, domain_id: str, *, query: Query, body: Json) -> Answer:
    domain = found(world.domains, domain_id, "Domain")
    return 200, {"object": "domain", **_item(domain), "records": _records(domain)}


@routes.add("POST", "/domains/{id}/verify")
def verify_domain(world: World, domain_id: str, *, query: Query, body: Json) -> Answer:
    found(world.domains, domain_id, "Domain").status = "verified"
    return 200, {"object": "domain", "id": domain_id}


@routes.add("DELETE", "/domains/{id}")
def delete_domain(world: World, domain_id: str, *, query: Query, body: Json) -> Answer:
    found(world.domains, domain_id, "Domain")
    del world.domains[domain_id]
    return 200, {"object": "domain", "id": domain_id, "deleted": True}


@routes.inspect("POST", "domains")
def _seed(world: World, body: Any) -> tuple[int, Any]:
    wanted = body if isinstance(body, dict) else {}
    if not isinstance(wanted.get("name"), str) or wanted.get("status", "verified") not in _STATUSES:
        return 400, {"message": 'give {"name": "acme.test", "status": "verified"}'}
    try:
        domain = add_domain(world, wanted["name"], str(wanted.get("status", "verified")))
    except ApiError as error:
        return 400, {"message": error.message}
    return 201, _item(domain)


@routes.snapshot("domains")
def _domains_state(world: World) -> list[Json]:
    return [{"id": d.id, "name": d.name, "status": d.status} for d in world.domains.values()]
