"""A FAKE of Stripe Checkout and the customer portal, for `make dev` and the tests: localstripe
(a stateful fake of Stripe's API) with the few endpoints it lacks, served by the same process.

localstripe implements customers, plans, payment methods and subscriptions but not Checkout nor
portal sessions. This module adds, with Stripe's request and response shapes:

- `POST /v1/checkout/sessions` (mode `subscription` only: `customer`, one `line_items` entry
  with a `price` or `plan`, `subscription_data[trial_period_days]`, `success_url`,
  `cancel_url`, `metadata`), `GET /v1/checkout/sessions/{id}` and
  `POST /v1/checkout/sessions/{id}/expire`;
- `POST /v1/billing_portal/sessions` (`customer`, `return_url`, `configuration`) and
  `POST`/`GET /v1/billing_portal/configurations` (`features` with `enabled` flags for
  `payment_method_update`, `invoice_history`, `subscription_cancel`, `subscription_update`,
  and `metadata`; a session without a configuration offers every feature);
- the pages a customer opens: `GET /checkout/{id}` (a form) and `POST /checkout/{id}` with
  `card` (default 4242424242424242): the card is attached to the customer as its default, the
  subscription is created in localstripe (with the trial asked for: `trialing`, a status
  localstripe itself never sets), the session completes and
  `checkout.session.completed` is sent, signed like Stripe does, to `--webhook-url` with the
  secret in `STRIPE_WEBHOOK_SECRET`; a declined card (localstripe's test numbers) answers 402
  and the session stays open. `GET /portal/{id}` shows the portal session's customer and the
  features its configuration offers;
- `proration_behavior` on a subscription update (localstripe knows only `prorate`).

What is faked is only this; everything else is localstripe's. Run by
`localplatform.localstripe` as `python -m localplatform.stripe_fake --port N`.
"""

from __future__ import annotations

import argparse
import html
import importlib
import os
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

# localstripe ships no type information: its modules are used as untyped objects.
server: Any = importlib.import_module("localstripe.server")
resources: Any = importlib.import_module("localstripe.resources")
webhooks: Any = importlib.import_module("localstripe.webhooks")
errors: Any = importlib.import_module("localstripe.errors")

COMPLETED = "checkout.session.completed"
PUBLIC_PAGES = ("/checkout/", "/portal/")
BASE: dict[str, str] = {}  # "url": this server's address, for the pages' URLs


def _bad(message: str) -> Exception:
    error: Exception = errors.UserError(400, message)
    return error


class CheckoutSession(resources.StripeObject):  # type: ignore[misc]
    object = "checkout.session"
    _id_prefix = "cs_test_"

    def __init__(
        self,
        mode: str | None = None,
        customer: str | None = None,
        line_items: list[dict[str, Any]] | None = None,
        subscription_data: dict[str, Any] | None = None,
        success_url: str | None = None,
        cancel_url: str | None = None,
        client_reference_id: str | None = None,
        metadata: dict[str, str] | None = None,
        **unexpected: Any,
    ) -> None:
        if unexpected:
            raise _bad("Unexpected " + ", ".join(unexpected))
        if mode != "subscription":
            raise _bad("the fake implements Checkout in mode=subscription only")
        if not customer or not line_items or len(line_items) != 1 or not success_url:
            raise _bad("customer, one line_items entry and success_url are required")
        item = line_items[0]
        plan = item.get("price") or item.get("plan")
        resources.Customer._api_retrieve(customer)  # 404 for an unknown customer
        resources.Plan._api_retrieve(plan)  # 404 for an unknown plan
        super().__init__()
        self.mode, self.customer = mode, customer
        self.line_items: dict[str, list[dict[str, Any]]] = {
            "data": [{"price": {"id": plan}, "quantity": int(item.get("quantity") or 1)}]
        }
        self.subscription_data = dict(subscription_data or {})
        self.success_url, self.cancel_url = success_url, cancel_url
        self.client_reference_id = client_reference_id
        self.metadata = dict(metadata or {})
        self.status, self.payment_status = "open", "unpaid"
        self.subscription: str | None = None
        self.url: str | None = f"{BASE['url']}/checkout/{self.id}"
        self.expires_at = self.created + 24 * 3600

    @classmethod
    def _api_expire(cls, id: str, **_: Any) -> CheckoutSession:
        found: CheckoutSession = cls._api_retrieve(id)
        if found.status == "open":
            found.status, found.url = "expired", None
        return found


PORTAL_FEATURES = (
    "payment_method_update",
    "invoice_history",
    "subscription_cancel",
    "subscription_update",
)


class PortalConfiguration(resources.StripeObject):  # type: ignore[misc]
    object = "billing_portal.configuration"
    _id_prefix = "bpc_"

    def __init__(
        self,
        features: dict[str, dict[str, Any]] | None = None,
        metadata: dict[str, str] | None = None,
        **unexpected: Any,
    ) -> None:
        if unexpected:
            raise _bad("Unexpected " + ", ".join(unexpected))
        unknown = set(features or {}) - set(PORTAL_FEATURES)
        if unknown:
            raise _bad("Unknown features " + ", ".join(sorted(unknown)))
        super().__init__()
        self.features = {
            name: {"enabled": str((features or {}).get(name, {}).get("enabled")).lower() == "true"}
            for name in PORTAL_FEATURES
        }
        self.metadata = dict(metadata or {})
        self.is_default = False


class PortalSession(resources.StripeObject):  # type: ignore[misc]
    object = "billing_portal.session"
    _id_prefix = "bps_"

    def __init__(
        self,
        customer: str | None = None,
        return_url: str | None = None,
        configuration: str | None = None,
        **unexpected: Any,
    ) -> None:
        if unexpected:
            raise _bad("Unexpected " + ", ".join(unexpected))
        if not customer:
            raise _bad("customer is required")
        resources.Customer._api_retrieve(customer)
        if configuration is not None:
            PortalConfiguration._api_retrieve(configuration)  # 404 for an unknown one
        super().__init__()
        self.customer, self.return_url = customer, return_url
        self.configuration = configuration
        self.url = f"{BASE['url']}/portal/{self.id}"

    def _offers(self) -> list[str]:
        """The features this session's portal shows (every one without a configuration)."""
        if self.configuration is None:
            return list(PORTAL_FEATURES)
        found: PortalConfiguration = PortalConfiguration._api_retrieve(self.configuration)
        return [name for name in PORTAL_FEATURES if found.features[name]["enabled"]]


def pay(session: CheckoutSession, card: str) -> None:
    """The customer pays `session` with `card`: what Stripe does when Checkout completes."""
    if session.status != "open":
        raise errors.UserError(400, f"the checkout session is {session.status}")
    method = resources.PaymentMethod._api_create(
        type="card", card={"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    )
    resources.PaymentMethod._api_attach(method.id, customer=session.customer)
    resources.Customer._api_update(
        session.customer, invoice_settings={"default_payment_method": method.id}
    )
    item = session.line_items["data"][0]
    trial = session.subscription_data.get("trial_period_days")
    subscription = resources.Subscription._api_create(
        customer=session.customer,
        items=[{"plan": item["price"]["id"], "quantity": item["quantity"]}],
        metadata=session.subscription_data.get("metadata") or {},
        **({"trial_period_days": trial} if trial else {}),
    )
    if trial:  # localstripe leaves a subscription with a trial `incomplete`; Stripe trials it
        subscription.status, subscription.trial_start = "trialing", subscription.created
        subscription.trial_end = subscription.created + int(trial) * 24 * 3600
    if subscription.status not in ("active", "trialing"):
        resources.Subscription._api_delete(subscription.id)
        raise errors.UserError(402, "Your card was declined.", {"code": "card_declined"})
    session.status, session.subscription = "complete", subscription.id
    session.payment_status = "no_payment_required" if trial else "paid"
    session.url = None
    webhooks.schedule_webhook(resources.Event(COMPLETED, session))


def _page(title: str, body: str) -> web.Response:
    text = f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>{body}"
    return web.Response(text=text, content_type="text/html")


async def checkout_page(request: web.Request) -> web.StreamResponse:
    session: CheckoutSession = CheckoutSession._api_retrieve(request.match_info["id"])
    if request.method == "GET":
        item = session.line_items["data"][0]
        return _page(
            "Checkout (local fake)",
            f"<p>Plan {html.escape(item['price']['id'])}, status {session.status}.</p>"
            '<form method="post"><input name="card" value="4242424242424242">'
            "<button>Pay</button></form>",
        )
    form = await request.post()
    pay(session, str(form.get("card") or "4242424242424242"))
    raise web.HTTPSeeOther(session.success_url)


async def portal_page(request: web.Request) -> web.StreamResponse:
    session: PortalSession = PortalSession._api_retrieve(request.match_info["id"])
    back = html.escape(session.return_url or "")
    return _page(
        "Billing portal (local fake)",
        f"<p>Customer {html.escape(session.customer)}.</p>"
        f"<p>Offers: {html.escape(', '.join(session._offers()))}.</p>"
        f'<a href="{back}">Back</a>',
    )


@web.middleware
async def public_pages(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The customer's pages need no API key: they skip localstripe's authentication."""
    if request.path.startswith(PUBLIC_PAGES):
        try:
            found: web.StreamResponse = await request.match_info.handler(request)
            return found
        except errors.UserError as exc:
            response: web.StreamResponse = exc.to_response()
            return response
    return await handler(request)


def _prorating_update(subscription: Any, proration_behavior: str | None = None, **data: Any) -> Any:
    """localstripe knows only the older `prorate` flag that `proration_behavior` replaced."""
    if proration_behavior is not None:
        data["prorate"] = proration_behavior != "none"
    return LOCALSTRIPE_UPDATE(subscription, **data)


LOCALSTRIPE_UPDATE = resources.Subscription._update


def install(app: Any) -> None:
    """Add the fake's routes and its middleware to localstripe's application (before it runs)."""
    resources.Subscription._update = _prorating_update
    app.middlewares.insert(0, public_pages)
    sessions = "/v1/checkout/sessions"
    app.router.add_post(sessions, server.api_create(CheckoutSession, sessions))
    app.router.add_post(
        sessions + "/{id}/expire", server.api_extra(CheckoutSession._api_expire, sessions)
    )
    app.router.add_get(sessions + "/{id}", server.api_retrieve(CheckoutSession, sessions))
    portal = "/v1/billing_portal/sessions"
    app.router.add_post(portal, server.api_create(PortalSession, portal))
    configurations = "/v1/billing_portal/configurations"
    app.router.add_post(configurations, server.api_create(PortalConfiguration, configurations))
    app.router.add_get(configurations, server.api_list_all(PortalConfiguration, configurations))
    app.router.add_get(
        configurations + "/{id}", server.api_retrieve(PortalConfiguration, configurations)
    )
    app.router.add_route("*", "/checkout/{id}", checkout_page)
    app.router.add_get("/portal/{id}", portal_page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--webhook-url", help="where checkout.session.completed is sent")
    args = parser.parse_args()
    BASE["url"] = f"http://127.0.0.1:{args.port}"
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET")
    if args.webhook_url and secret:
        webhooks.register_webhook("tenantry", args.webhook_url, secret, [COMPLETED])
    install(server.app)
    # Never loaded from localstripe's one state file, which every instance rewrites: it
    # starts empty, like `localstripe --from-scratch`.
    web.run_app(server.app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
