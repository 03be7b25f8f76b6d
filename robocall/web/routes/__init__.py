"""Dashboard routes, one module per area; each module's `routes` table is added by setup_dashboard."""

from robocall.web.routes import (
    admin,
    api,
    audio,
    auth,
    campaigns,
    casework,
    escalations,
    events,
    flows,
    lists,
    reports,
    sms_campaigns,
)

ROUTE_TABLES = [auth.routes, escalations.routes, casework.routes, events.routes, lists.routes, campaigns.routes, sms_campaigns.routes,
                flows.routes, reports.routes, admin.routes, api.routes, audio.routes]
