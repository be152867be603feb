"""Example transformation: put customers into Resend segments by their plan.

Settings: ``transforms: {functions: ["deploy/examples/transforms/plan_to_audiences.py"]}``.
An identify with ``traits.plan = "pro"`` gets ``traits.resendAudiences = "Customers, Pro customers"``.
"""

from typing import Any

SEGMENTS_BY_PLAN = {
    "free": ["Free users"],
    "pro": ["Customers", "Pro customers"],
    "enterprise": ["Customers", "Enterprise customers"],
}


def transform(event: dict[str, Any], context: Any) -> dict[str, Any]:
    traits = event.get("traits") or {}
    plan = traits.get("plan")
    if event.get("type") == "identify" and isinstance(plan, str) and plan.lower() in SEGMENTS_BY_PLAN:
        traits["resendAudiences"] = ", ".join(SEGMENTS_BY_PLAN[plan.lower()])
        event["traits"] = traits
    return event
