"""A minimal OpenID Connect provider for the tests: discovery, JWKS, authorize (approves at once as
`provider.login_as`) and token (client_secret_basic or _post), ID tokens signed RS256 with a key made
per run (joserfc). Runs in a thread on 127.0.0.1; never an outside service.

Knobs for the refusal tests: `audience` (None = the client id), `expires_in` (seconds, negative =
already expired), `claims` (extra or overriding claims), `tamper_nonce`."""
from __future__ import annotations

import base64
import secrets
import threading
import time
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server


class Provider:
    def __init__(self, client_id="wuyi-bpm", client_secret="s3cret-for-tests"):
        self.client_id, self.client_secret = client_id, client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"},
                                       private=True)
        self.login_as = {"sub": "gd-0001", "preferred_username": "handler1", "name": "黄经办",
                         "email": "handler1@jiangmen.gov.cn"}
        self.audience = None
        self.expires_in = 300
        self.claims: dict = {}
        self.tamper_nonce = False
        self.codes: dict[str, dict] = {}
        self.token_requests = 0
        self.app = self._build()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "Provider":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def _id_token(self, grant: dict) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.audience or self.client_id, "iat": now,
                  "exp": now + self.expires_in, "auth_time": now,
                  "nonce": "forged" if self.tamper_nonce else grant["nonce"], **self.login_as, **self.claims}
        return jwt.encode({"alg": "RS256", "kid": "test-key-1"}, claims, self.key)

    def _client_ok(self) -> bool:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        else:
            user, password = request.form.get("client_id", ""), request.form.get("client_secret", "")
        from urllib.parse import unquote
        return unquote(user) == self.client_id and unquote(password) == self.client_secret

    def _build(self) -> Flask:
        app = Flask("test_oidc_provider")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify({
                "issuer": self.issuer, "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token", "jwks_uri": self.issuer + "/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]})

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.get("/authorize")
        def authorize():
            args = request.args
            if args.get("client_id") != self.client_id or args.get("response_type") != "code":
                return jsonify({"error": "invalid_request"}), 400
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": args.get("nonce"), "redirect_uri": args["redirect_uri"]}
            return redirect(args["redirect_uri"] + "?" + urlencode({"code": code, "state": args.get("state", "")}))

        @app.post("/token")
        def token():
            self.token_requests += 1
            if not self._client_ok():
                return jsonify({"error": "invalid_client"}), 401
            grant = self.codes.pop(request.form.get("code", ""), None)
            if grant is None or grant["redirect_uri"] != request.form.get("redirect_uri"):
                return jsonify({"error": "invalid_grant"}), 400
            return jsonify({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                            "id_token": self._id_token(grant)})

        return app
