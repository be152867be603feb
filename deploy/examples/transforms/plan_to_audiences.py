"""Example transformation: put customers into Resend segments by their plan.

Settings: ``transforms: {functions: ["deploy/examples/transforms/plan_to_audiences.py"]}``.
An identify with ``traits.plan = "pro"`` gets ``traits.resendAudiences = "Customers, Pro customers"``
(a comma-separated list of segment names; the connector creates segments it does not know yet).
Any other event, or a plan not listed here, passes through unchanged.
"""

from __future__ import annotations

from typing import Any

from connector.transforms import TransformContext

SEGMENTS_BY_PLAN = {
    "free": ["Free users"],
    "pro": ["Customers", "Pro customers"],
    "enterprise": ["Customers", "Enterprise customers"],
}


def transform(event: dict[str, Any], context: TransformContext) -> dict[str, Any]:
    traits = event.get("traits")
    if event.get("type") != "identify" or not isinstance(traits, dict):
        return event
    plan = traits.get("plan")
    segments = SEGMENTS_BY_PLAN.get(plan.strip().lower()) if isinstance(plan, str) else None
    if segments is None:
        return event
    # The event is ours to change: the chain hands each function an event nobody else holds.
    traits["resendAudiences"] = ", ".join(segments)
    context.log.debug("plan_to_audiences.set", plan=plan, segments=len(segments))
    return event
