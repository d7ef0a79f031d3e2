"""Logging in, refresh rotation, throttling, roles in tokens, people and units administration, and the
HTTP basics (request ids, body limit, CORS)."""

from __future__ import annotations

import time

import httpx
import jwt

from gateway.app import create_app
from gateway.context import Services
from gateway.settings import GatewaySettings
from tests.integration.gateway.support import PASSWORD, Api, problem_of, snapshot


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/token", data={"grant_type": "password", "username": username,
                                                      "password": password})


async def test_password_grant_issues_tokens_that_carry_roles(api: Api) -> None:
    async with api.anonymous() as client:
        response = await login(client, "zrzy")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["sub"] == "zrzy" and claims["roles"] == ["unit_staff"] and claims["units"] == ["dept-zrzy"]
        assert claims["exp"] - claims["iat"] == 15 * 60
        me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.json() == {"username": "zrzy", "display_name": "Zrzy", "roles": ["unit_staff"],
                             "unit_ids": ["dept-zrzy"], "project_codes": []}
        wrong = await login(client, "zrzy", "wrong password")
        assert problem_of(wrong, 401)["error"] == "invalid_grant"
        nobody = await login(client, "nobody")
        assert problem_of(nobody, 401)["detail"] == problem_of(wrong, 401)["detail"]  # no user enumeration
        missing = await client.post("/api/auth/token", data={"grant_type": "password", "username": "zrzy"})
        assert problem_of(missing, 400)["error"] == "invalid_request"
        bad_grant = await client.post("/api/auth/token", data={"grant_type": "client_credentials"})
        assert problem_of(bad_grant, 422)


async def test_refresh_tokens_rotate_and_are_spent_once(api: Api) -> None:
    async with api.anonymous() as client:
        first = (await login(client, "leader")).json()
        refreshed = await client.post("/api/auth/token", data={"grant_type": "refresh_token",
                                                               "refresh_token": first["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        second = refreshed.json()
        assert second["refresh_token"] != first["refresh_token"]
        reused = await client.post("/api/auth/token", data={"grant_type": "refresh_token",
                                                            "refresh_token": first["refresh_token"]})
        assert "already been used" in problem_of(reused, 401)["detail"]
        # An access token is not a refresh token.
        wrong_kind = await client.post("/api/auth/token", data={"grant_type": "refresh_token",
                                                                "refresh_token": second["access_token"]})
        assert "expected an refresh token" in problem_of(wrong_kind, 401)["detail"]
        assert (await client.post("/api/auth/logout", data={"refresh_token": second["refresh_token"]})).status_code == 204
        after_logout = await client.post("/api/auth/token", data={"grant_type": "refresh_token",
                                                                  "refresh_token": second["refresh_token"]})
        assert problem_of(after_logout, 401)


async def test_failed_logins_are_throttled_in_redis(api: Api) -> None:
    async with api.anonymous() as client:
        for _ in range(3):  # the test settings allow 3 failures per user
            assert (await login(client, "investor", "nope")).status_code == 401
        throttled = await login(client, "investor")  # even the right password waits now
        body = problem_of(throttled, 429)
        assert 0 < int(throttled.headers["retry-after"]) <= 60 and "try again" in body["detail"]
        assert (await login(client, "investor2")).status_code == 200  # another user is not affected
        await api.services.redis.delete("qly:gw:login-fail:user:investor")
        assert (await login(client, "investor")).status_code == 200


async def test_disabled_accounts_and_bad_tokens(api: Api) -> None:
    admin = await api.as_("admin")
    async with api.anonymous() as client:
        pair = (await login(client, "zjj")).json()
        assert (await admin.patch("/api/users/zjj", json={"active": False})).json()["active"] is False
        assert problem_of(await login(client, "zjj"), 401)
        refused = await client.post("/api/auth/token", data={"grant_type": "refresh_token",
                                                             "refresh_token": pair["refresh_token"]})
        assert "disabled" in problem_of(refused, 401)["detail"]
        garbage = await client.get("/api/auth/me", headers={"Authorization": "Bearer not.a.token"})
        assert 'invalid_token' in garbage.headers["www-authenticate"] and problem_of(garbage, 401)
        forged = jwt.encode({"sub": "admin", "roles": ["admin"], "typ": "access", "iss": "qianliyan-gateway",
                             "iat": int(time.time()), "exp": int(time.time()) + 60, "jti": "x"}, "another-secret-0123456789-abcdefghijklmnop",
                            algorithm="HS256")
        assert problem_of(await client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"}), 401)
        expired = jwt.encode({"sub": "admin", "roles": ["admin"], "typ": "access", "iss": "qianliyan-gateway",
                              "iat": 1, "exp": 2, "jti": "x"},
                             api.services.secrets.jwt_secret.get_secret_value(), algorithm="HS256")  # type: ignore[union-attr]
        assert "expired" in problem_of(await client.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"}), 401)["detail"]


async def test_people_and_units_administration(api: Api) -> None:
    admin = await api.as_("admin")
    created = await admin.post("/api/users", json={
        "username": "li.si", "display_name": "李四", "password": "a strong passphrase", "roles": ["unit_staff"],
        "unit_ids": ["dept-zjj"]})
    assert created.status_code == 201, created.text
    assert "password" not in created.text and "password_hash" not in created.text
    async with api.anonymous() as client:
        assert (await login(client, "li.si", "a strong passphrase")).status_code == 200
    assert problem_of(await admin.post("/api/users", json={
        "username": "li.si", "display_name": "x", "password": "another passphrase", "roles": ["leader"]}), 409)
    assert problem_of(await admin.post("/api/users", json={
        "username": "x", "display_name": "x", "password": "another passphrase", "roles": ["system"]}), 422)
    assert problem_of(await admin.post("/api/users", json={
        "username": "y", "display_name": "y", "password": "another passphrase", "roles": ["leader"],
        "unit_ids": ["no-unit"]}), 422)["errors"][0]["field"] == "unit_ids"
    listed = (await admin.get("/api/users", params={"unit_id": "dept-zjj"})).json()
    assert [u["username"] for u in listed["items"]] == ["li.si", "zjj"]
    patched = await admin.patch("/api/users/li.si", json={"roles": ["leader", "unit_staff"]})
    assert patched.json()["roles"] == ["leader", "unit_staff"]
    assert problem_of(await admin.patch("/api/users/ghost", json={"active": False}), 404)

    unit = await admin.put("/api/units/dept-fgw", json={"name": "发展和改革委员会", "kind": "department"})
    assert unit.status_code == 201
    assert (await admin.put("/api/units/dept-fgw", json={"name": "发改委", "kind": "department"})).status_code == 200
    staff = await api.as_("zrzy")
    assert "发改委" in [u["name"] for u in (await staff.get("/api/units")).json()]

    before = await snapshot(api.services.store)
    for name in ("leader", "zrzy", "investor", "designer"):
        client = await api.as_(name)
        assert problem_of(await client.get("/api/users"), 403)
        assert problem_of(await client.post("/api/users", json={
            "username": "evil", "display_name": "e", "password": "0123456789", "roles": ["admin"]}), 403)
        assert problem_of(await client.patch("/api/users/admin", json={"active": False}), 403)
        assert problem_of(await client.put("/api/units/office", json={"name": "x", "kind": "office"}), 403)
    assert await snapshot(api.services.store) == before
    entries = await api.services.store.audit.list(user="admin")
    assert {"user.create", "user.save", "unit.save"} <= {e.action for e in entries.items}


async def test_request_id_body_limit_and_cors(services: Services) -> None:
    closed = create_app(services=services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=closed), base_url="http://g") as client:
        response = await client.get("/healthz", headers={"X-Request-ID": "abc-123", "Origin": "http://evil.example"})
        assert response.headers["x-request-id"] == "abc-123"
        assert "access-control-allow-origin" not in response.headers  # CORS closed by default
        weird = await client.get("/healthz", headers={"X-Request-ID": "<script>"})
        assert weird.headers["x-request-id"] != "<script>" and len(weird.headers["x-request-id"]) == 32

    small = GatewaySettings(max_body_bytes=2048, cors_origins=("http://screen.example",))
    limited = Services(settings=small, app=services.app, secrets=services.secrets, zeebe=services.zeebe,
                       store=services.store, redis=services.redis, bus=services.bus, engine=services.engine,
                       clock=services.clock)
    app = create_app(services=limited)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client:
        big = await client.post("/api/auth/token", content=b"x" * 4096,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert big.status_code == 413 and big.headers["content-type"] == "application/problem+json"
        assert big.json()["detail"] == "the request body exceeds the limit of 2048 bytes"

        async def chunks():  # no Content-Length: counted while reading
            for _ in range(8):
                yield b"y" * 512

        chunked = await client.post("/api/auth/token", content=chunks(),
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert chunked.status_code == 413
        preflight = await client.options("/api/projects", headers={
            "Origin": "http://screen.example", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        assert preflight.headers["access-control-allow-origin"] == "http://screen.example"
        other = await client.get("/healthz", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
